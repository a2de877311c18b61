package dev.autodir.image;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.autodir.fuzz.FuzzSupport;

import java.nio.file.Path;

/**
 * Fuzz target of the image reader's header checks and decoding (issue 12): any file must read as an image
 * within the size limits or fail with {@link ImageFileException}. The harness lowers the limits to 256x256
 * (65,536 pixels) so a decompression bomb is refused by the header check: what decoding allocates is bounded
 * by that limit, not by the input's size: the JDK's JPEG decoder spends a fixed 12-17 MiB on some corrupt
 * 12x8 files (measured; growing the file does not grow it), so the bound is {@value #IMAGE_PER_BYTE} bytes per
 * input byte plus {@link #DECODE_BYTES}.
 */
class ImageHeaderFuzzTest {
    static final long IMAGE_PER_BYTE = 64;
    static final long DECODE_BYTES = 32L << 20;
    private static final RgbImageReader.ReadOptions SMALL = RgbImageReader.ReadOptions.DEFAULT.withLimits(65_536, 256);
    private static final Path IMAGE = FuzzSupport.scratch("image", ".img");

    @FuzzTest(maxDuration = "10m")
    void imageFile(byte[] input) throws Exception {
        FuzzSupport.measure("image", input.length, IMAGE_PER_BYTE, DECODE_BYTES, () -> {
            try {
                RgbImageReader.read(FuzzSupport.write(IMAGE, input), SMALL);
            } catch (ImageFileException expected) {
                // unreadable, corrupt or over the limits
            }
        });
    }
}
