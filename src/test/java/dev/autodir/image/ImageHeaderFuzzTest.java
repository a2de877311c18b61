package dev.autodir.image;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.autodir.fuzz.FuzzSupport;

import java.nio.file.Path;

/**
 * Fuzz target of the image reader's header checks and decoding (issue 12): any file must read as an image
 * within the size limits or fail with {@link ImageFileException}. The harness lowers the limits to 256x256
 * (65,536 pixels) so a decompression bomb is refused by the header check; what decoding allocates is then
 * bounded by the limit, within the {@value FuzzSupport#SLACK_BYTES}-byte slack.
 */
class ImageHeaderFuzzTest {
    static final long IMAGE_PER_BYTE = 64;
    private static final RgbImageReader.ReadOptions SMALL = RgbImageReader.ReadOptions.DEFAULT.withLimits(65_536, 256);
    private static final Path IMAGE = FuzzSupport.scratch("image", ".img");

    @FuzzTest(maxDuration = "10m")
    void imageFile(byte[] input) throws Exception {
        FuzzSupport.measure("image", input.length, IMAGE_PER_BYTE, () -> {
            try {
                RgbImageReader.read(FuzzSupport.write(IMAGE, input), SMALL);
            } catch (ImageFileException expected) {
                // unreadable, corrupt or over the limits
            }
        });
    }
}
