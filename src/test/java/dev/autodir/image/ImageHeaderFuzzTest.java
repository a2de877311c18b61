package dev.autodir.image;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.autodir.fuzz.FuzzSupport;

import java.nio.file.Path;

/**
 * Fuzz target of the image reader's header checks and decoding (issue 12): any file must read as an image
 * within the size limits or fail with {@link ImageFileException}. The harness lowers the limits to 256x256
 * (65,536 pixels) so a decompression bomb is refused by the header check: what decoding allocates is bounded
 * by that limit, not by the input's size (a 320-byte CMYK JPEG of 256x256 costs 8.7 MiB through the colour
 * conversion), so the bound is {@value #IMAGE_PER_BYTE} bytes per input byte plus {@link #DECODE_BYTES}
 * (256 bytes per pixel of the limit).
 */
class ImageHeaderFuzzTest {
    static final long IMAGE_PER_BYTE = 64;
    static final long DECODE_BYTES = 16L << 20;
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
