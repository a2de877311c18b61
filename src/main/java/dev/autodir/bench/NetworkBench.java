package dev.autodir.bench;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cuda.CudaOps;
import dev.autodir.pipeline.UNetCall;
import dev.autodir.model.AutoDIRModels;
import dev.autodir.model.clip.CLIP;
import dev.autodir.pipeline.BIQA;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.text.CLIPTokenizer;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * One network evaluation at a benchmark size, with its inputs prepared once on the backend: the unit of work of
 * {@code autodir bench} and of the JMH benchmarks. {@link #run()} includes bringing the output to the host, which
 * also waits for a device backend to finish.
 */
public final class NetworkBench {

    public enum Network {
        UNET("unet"), VAE_ENCODE("vae-encode"), VAE_DECODE("vae-decode"), SCM("scm"), CLIP_VISION("clip-vision"), CLIP_TEXT("clip-text");

        private final String cliName;

        Network(String cliName) { this.cliName = cliName; }

        public String cliName() { return cliName; }

        public static Network parse(String s) {
            for (Network n : values()) if (n.cliName.equals(s.toLowerCase(Locale.ROOT))) return n;
            throw new IllegalArgumentException("unknown network \"" + s + "\" (choose unet, vae-encode, vae-decode, scm, clip-vision, clip-text)");
        }
    }

    private final AutoDIRModels models;
    private final Ops ops;
    private final Network network;
    private final int size;
    private static final float[] T = {500.5f};
    private Tensor a, c;
    private int[][] ids, mask;
    private final UNetCall unetCall;

    /** @param size the image side in pixels (the UNet runs at size / VAE factor; CLIP vision uses its own size). */
    public NetworkBench(AutoDIRModels models, Ops ops, Network network, int size, CLIPTokenizer tokenizer) {
        this.models = models;
        this.ops = ops;
        this.network = network;
        this.size = size;
        int m = models.sizeMultiple();
        if (size < m || size % m != 0) {
            throw new IllegalArgumentException("--size " + size + ": must be a positive multiple of " + m + " for these networks");
        }
        SplittableRandom r = new SplittableRandom(1234);
        int f = models.config().vae().downsampleFactor(), lat = size / f, e = models.config().vae().embedDim();
        switch (network) {
            case UNET -> {
                a = input(random(r, 1, models.config().unet().inChannels(), lat, lat));
                c = input(random(r, 1, 77, models.config().unet().contextDim()));
            }
            case VAE_ENCODE -> a = input(random(r, 1, 3, size, size));
            case VAE_DECODE -> a = input(random(r, 1, e, lat, lat));
            case SCM -> a = input(random(r, 1, models.config().nafnet().imgChannels(), size, size));
            case CLIP_VISION -> {
                int s = models.config().clipVision().imageSize();
                a = input(random(r, 1, 3, s, s));
            }
            case CLIP_TEXT -> {
                int k = BIQA.CLASSES.size();
                ids = new int[k][];
                mask = new int[k][];
                BIQA biqa = new BIQA(models.clip(), tokenizer);
                for (int i = 0; i < k; i++) {
                    var t = tokenizer.encode(BIQA.prompt(BIQA.CLASSES.get(i)));
                    ids[i] = biqa.fold(t.ids());
                    mask[i] = t.attentionMask();
                }
            }
        }
        unetCall = network == Network.UNET ? UNetCall.forBackend(ops, models.unet(), System.err) : null;
    }

    /** An input that survives the end of each run's stage (a persistent device tensor on the cuda backend). */
    private Tensor input(FloatTensor host) {
        if (ops instanceof CudaOps cuda) {
            Tensor t = cuda.persistent(cuda.precision(), host.shape());
            cuda.uploadInto(t, host);
            return t;
        }
        return ops.upload(host);
    }

    public Network network() { return network; }

    public int size() { return size; }

    /** One evaluation; returns the output on the host. */
    public FloatTensor run() { return run(ops); }

    /** Time per operation kind of one evaluation (each op synchronised; see {@link OpProfiler}). */
    public String profile() {
        OpProfiler p = new OpProfiler(ops);
        run(p);
        return p.report();
    }

    /** The matrix FLOPs of one evaluation (counted once through {@link FlopCounter}). */
    public double countFlops() {
        FlopCounter counter = new FlopCounter(ops);
        run(counter);
        return counter.flops();
    }

    private FloatTensor run(Ops o) {
        try {
            Tensor out = switch (network) {
                case UNET -> o == ops ? unetCall.eps(o, a, T, c) : models.unet().forward(o, a, T, c);
                case VAE_ENCODE -> models.vae().encode(o, a).moments();
                case VAE_DECODE -> models.vae().decodeFirstStage(o, a, models.config().schedule().scaleFactor());
                case SCM -> models.nafnet().forward(o, a, 1f);
                case CLIP_VISION -> {
                    CLIP.VisionOutput v = models.clip().encodeImage(o, a);
                    yield models.clip().projectImage(o, v.pooled());
                }
                case CLIP_TEXT -> models.clip().encodeText(o, ids, mask).lastHiddenState();
            };
            return o.download(out);
        } finally {
            o.endStage();
        }
    }

    private static FloatTensor random(SplittableRandom r, int... shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = (float) (2 * r.nextDouble() - 1);
        return t;
    }
}
