package dev.autodir.io;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipFile;

/**
 * Writes the fuzz targets' seed corpora under src/test/resources (committed; rerun after changing a builder):
 * {@code java -cp target/test-classes:target/classes:<deps> dev.autodir.io.FuzzSeeds ../shared/golden/A}.
 * Seeds come from the golden fixtures (small case files, the real data.pkl of weights.ckpt), the project's
 * configs, and the tests' own builders.
 */
public final class FuzzSeeds {
    private FuzzSeeds() { }

    public static void main(String[] args) throws IOException {
        Path golden = Path.of(args.length > 0 ? args[0] : "../shared/golden/A");
        Path res = Path.of("src/test/resources/dev/autodir");
        Path st = Files.createDirectories(res.resolve("io/CheckpointFuzzTestInputs/safetensors"));
        Path zip = Files.createDirectories(res.resolve("io/CheckpointFuzzTestInputs/torchZip"));
        Path pkl = Files.createDirectories(res.resolve("io/CheckpointFuzzTestInputs/pickle"));
        Path yaml = Files.createDirectories(res.resolve("model/ConfigFuzzTestInputs/yamlConfig"));
        Path img = Files.createDirectories(res.resolve("image/ImageHeaderFuzzTestInputs/imageFile"));

        for (String c : new String[] {"case_color_fix", "case_vae_decode"}) {
            Files.copy(golden.resolve(c + ".safetensors"), st.resolve(c + ".safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Map<String, TestFiles.Raw> t = new LinkedHashMap<>();
        t.put("f32", new TestFiles.Raw(DType.F32, new int[] {2, 3}, TestFiles.le(1, 2, 3, 4, 5, 6)));
        t.put("f16", new TestFiles.Raw(DType.F16, new int[] {2}, TestFiles.le16(0x3c00, 0xc000)));
        t.put("bf16", new TestFiles.Raw(DType.BF16, new int[] {1}, TestFiles.le16(0x3f80)));
        t.put("i64", new TestFiles.Raw(DType.I64, new int[] {1, 3}, TestFiles.le64(0, 1, 2)));
        t.put("empty", new TestFiles.Raw(DType.F32, new int[] {0, 4}, new byte[0]));
        TestFiles.safetensors(st.resolve("dtypes.safetensors"), t, 0);

        // the real pickle of torch.save (protocol 2, Lightning layout) and a hand-built one
        try (ZipFile z = new ZipFile(golden.resolve("weights.ckpt").toFile()); InputStream in = z.getInputStream(z.getEntry("weights/data.pkl"))) {
            Files.write(pkl.resolve("golden-data.pkl"), in.readAllBytes());
        }
        byte[] lightning = lightningPickle();
        Files.write(pkl.resolve("lightning.pkl"), lightning);
        Map<String, byte[]> storages = new LinkedHashMap<>();
        float[] v = new float[24];
        for (int i = 0; i < v.length; i++) v[i] = i * 0.5f - 3f;
        storages.put("0", TestFiles.le(v));
        storages.put("1", TestFiles.le16(0x3c00, 0x4000, 0x4200, 0x4400));
        TestFiles.torchZip(zip.resolve("lightning.ckpt"), "archive", lightning, storages, false);

        Files.copy(Path.of("configs/golden-A.yaml"), yaml.resolve("golden-A.yaml"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.copy(Path.of("configs/generate.yaml"), yaml.resolve("generate.yaml"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        BufferedImage rgb = new BufferedImage(12, 8, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 8; y++) for (int x = 0; x < 12; x++) rgb.setRGB(x, y, (x * 20) << 16 | (y * 30) << 8 | (x * y));
        ImageIO.write(rgb, "png", img.resolve("rgb.png").toFile());
        ImageIO.write(rgb, "jpeg", img.resolve("rgb.jpg").toFile());
        ImageIO.write(rgb, "tiff", img.resolve("rgb.tif").toFile());
        BufferedImage grey = new BufferedImage(9, 5, BufferedImage.TYPE_USHORT_GRAY);
        ImageIO.write(grey, "png", img.resolve("grey16.png").toFile());
        BufferedImage palette = new BufferedImage(7, 7, BufferedImage.TYPE_BYTE_INDEXED);
        ImageIO.write(palette, "png", img.resolve("palette.png").toFile());
    }

    /** A Lightning-style checkpoint pickle: views with offsets and strides, a half tensor, inert extras. */
    static byte[] lightningPickle() {
        PickleBuilder p = PickleBuilder.proto2().emptyDict().mark();
        p.str("epoch").integer(3);
        p.str("state_dict").global("collections", "OrderedDict").emptyTuple().reduce();
        p.emptyDict().str("_metadata").emptyDict().setitem().build();
        p.mark();
        p.str("model.w").tensor("FloatStorage", "0", 24, 0, new long[] {2, 3, 4}, new long[] {12, 4, 1});
        p.str("model.t").tensor("FloatStorage", "0", 24, 2, new long[] {4, 5}, new long[] {1, 4});
        p.str("model.h").tensor("HalfStorage", "1", 4, 0, new long[] {4}, new long[] {1});
        p.str("position_ids").tensor("FloatStorage", "0", 24, 0, new long[] {1, 6}, new long[] {0, 1});
        p.setitems();
        p.str("hyper_parameters").global("argparse", "Namespace").emptyTuple().op(0x81)
                .emptyDict().str("lr").binfloat(1e-4).setitem().build();
        p.str("callbacks").global("os", "system").mark().str("echo pwned").tuple().reduce();
        p.setitems().stop();
        return p.bytes();
    }
}
