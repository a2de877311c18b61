package dev.autodir.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.autodir.fuzz.FuzzSupport;

import java.nio.file.Path;

/**
 * Fuzz targets of the checkpoint readers (issue 12). Each input becomes a file; opening it must either
 * succeed, after which every tensor can be read, or throw {@link CheckpointException}: any other exception,
 * an Error, more than the stated allocation per input byte or (fuzzing) more than a second is a finding.
 *
 * <p>The default test run executes the seeds under {@code src/test/resources/dev/autodir/io/CheckpointFuzzTestInputs}
 * (regression mode); {@code benchmarks/fuzz.sh TARGET DURATION} fuzzes one target (see README, Reliability).
 */
class CheckpointFuzzTest {
    /** Heap bytes a safetensors input may allocate per byte: header parse plus every tensor widened to int64 (8x). */
    static final long SAFETENSORS_PER_BYTE = 64;
    /**
     * Per byte of a torch zip: the pickle's values (~100 bytes of Java objects per opcode byte), times the 32x a
     * deflated data.pkl may inflate, plus the tensors widened to int64.
     */
    static final long TORCH_ZIP_PER_BYTE = 8192;
    /** Per byte of a bare pickle: at most one value per opcode byte, each a small Java object. */
    static final long PICKLE_PER_BYTE = 256;

    private static final Path SAFETENSORS = FuzzSupport.scratch("safetensors", ".safetensors");
    private static final Path ZIP = FuzzSupport.scratch("torchzip", ".ckpt");

    private static void openAndReadAll(Path file) {
        try (WeightStore s = WeightStore.open(file)) {
            for (String k : s.keys()) {
                if (s.info(k).dtype().isFloat()) s.readFloat(k);
                else s.readLong(k);
            }
        } catch (CheckpointException expected) {
            // the only way a bad file may fail
        }
    }

    @FuzzTest(maxDuration = "10m")
    void safetensors(byte[] input) throws Exception {
        byte[] file = new byte[input.length];
        System.arraycopy(input, 0, file, 0, input.length);
        FuzzSupport.measure("safetensors", input.length, SAFETENSORS_PER_BYTE,
                () -> openAndReadAll(FuzzSupport.write(SAFETENSORS, file)));
    }

    @FuzzTest(maxDuration = "10m")
    void torchZip(byte[] input) throws Exception {
        FuzzSupport.measure("torch-zip", input.length, TORCH_ZIP_PER_BYTE, () -> openAndReadAll(FuzzSupport.write(ZIP, input)));
    }

    @FuzzTest(maxDuration = "10m")
    void pickle(byte[] input) throws Exception {
        FuzzSupport.measure("pickle", input.length, PICKLE_PER_BYTE, () -> {
            try {
                new PickleReader(TorchCheckpointReader.GLOBALS, TorchCheckpointReader::persistentLoad).load(input);
            } catch (PickleReader.PickleException expected) {
                // the only way a bad stream may fail
            }
        });
    }
}
