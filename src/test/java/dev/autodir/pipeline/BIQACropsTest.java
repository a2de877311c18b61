package dev.autodir.pipeline;

import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.engine.TinyModel;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.ModelYaml;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** BIQA over a grid of crops: the official centre crop for one per side, the crops' average otherwise. */
class BIQACropsTest {
    @Test void cropPositionsSpanTheImage() {
        assertArrayEquals(new int[] {0, 1936, 3872}, BIQACrops.starts(4096, 224, 3));
        assertArrayEquals(new int[] {0, 1424, 2848}, BIQACrops.starts(3072, 224, 3));
        assertArrayEquals(new int[] {1936}, BIQACrops.starts(4096, 224, 1), "one crop: the centre one");
        assertArrayEquals(new int[] {0}, BIQACrops.starts(200, 224, 3), "smaller than the crop: one (padded) crop");
    }

    @Test void averagesTheCropsAssessments() {
        try (AutoDIRModels m = AutoDIRModels.load(TinyModel.WEIGHTS, ModelYaml.read(TinyModel.yaml()));
             CpuOps cpu = new CpuOps(); NetworkCache cache = new NetworkCache()) {
            BIQA biqa = new BIQA(m, CLIPTokenizer.loadDefault(), cache);
            int s = m.config().clipVision().imageSize();                    // set A: 32
            FloatTensor image = TinyModel.image(70, 90, 4);
            List<String> classes = BIQA.CLASSES;
            // one crop per side is the official assessment
            BIQA.Result official = biqa.assess(cpu, image, classes);
            BIQA.Result one = BIQACrops.assess(biqa, cpu, cpu.upload(image), classes, 1, s).result();
            assertArrayEquals(official.probs().data(), one.probs().data());
            // 2x2 crops at tops 0, 38 and lefts 0, 58: the mean of each crop's own assessment
            BIQA.Assessment grid = BIQACrops.assess(biqa, cpu, cpu.upload(image), classes, 2, s);
            float[] mean = new float[classes.size()];
            FloatTensor cond = null;
            for (int top : new int[] {0, 70 - s}) {
                for (int left : new int[] {0, 90 - s}) {
                    BIQA.Result r = biqa.assess(cpu, crop(image, top, left, s), classes);
                    for (int k = 0; k < mean.length; k++) mean[k] += r.probs().data()[k] / 4;
                    cond = cond == null ? r.cCrossattn().copy() : add(cond, r.cCrossattn());
                }
            }
            float[] got = grid.result().probs().data();
            double sum = 0;
            for (int k = 0; k < mean.length; k++) {
                assertEquals(mean[k], got[k], 1e-6, "class " + classes.get(k));
                sum += got[k];
            }
            assertEquals(1.0, sum, 1e-5, "averaged probabilities still sum to one");
            for (int i = 0; i < cond.numel(); i++) cond.data()[i] /= 4;
            double e = cpu.download(grid.conditioning()).relL2(cond);
            assertTrue(e <= 1e-6, "conditioning = mean of the crops' conditionings: rel-L2 " + e);
            assertTrue(official.probs().relL2(grid.result().probs()) > 1e-4, "other crops see other pixels");
        }
    }

    private static FloatTensor crop(FloatTensor x, int top, int left, int s) {
        FloatTensor out = FloatTensor.zeros(1, 3, s, s);
        int h = x.dim(2), w = x.dim(3);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < s; y++) System.arraycopy(x.data(), (c * h + top + y) * w + left, out.data(), (c * s + y) * s, s);
        }
        return out;
    }

    private static FloatTensor add(FloatTensor a, FloatTensor b) {
        for (int i = 0; i < a.numel(); i++) a.data()[i] += b.data()[i];
        return a;
    }
}
