package dev.autodir.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Opens checkpoints by content, not by name: a zip archive (local-file-header magic {@code PK\3\4}) is a
 * torch.save checkpoint, a file whose 8-byte length is followed by {@code {} is safetensors.
 *
 * <p>Whatever the file holds, opening it either succeeds or throws {@link CheckpointException} naming the file
 * and the problem; no other exception or {@code Error} leaves here, and the mapping is released on every
 * failure. The limits that bound what a hostile file can cost are stated next to each reader.
 */
final class WeightStores {
    private WeightStores() { }

    /** At most this many tensors per checkpoint (AutoDIR has about 2,000; optimizer state triples that). */
    static final int MAX_TENSORS = 100_000;
    /** An expanded (stride 0) or overlapping view may hold at most this many elements (4 MiB as float32) ... */
    static final long MAX_EXPANDED_ELEMENTS = 1L << 20;
    /**
     * ... and all such views of one file together at most as many elements as the file has bytes (at least
     * 65,536, at most 2^24 = 64 MiB as float32), so what a read materialises stays a small multiple of the file.
     */
    static final long MAX_EXPANDED_TOTAL = 1L << 24;
    static final long MIN_EXPANDED_TOTAL = 1L << 16;

    /**
     * Keeps a file's expanded views small: a view that reaches fewer storage elements than it has (a
     * 1-element storage viewed as 40000x40000 with strides (0, 0)) would be materialised in full by a read,
     * so a few bytes of file could ask for gigabytes. Real state dicts hold such views only as small buffers
     * (HF CLIP's position_ids is a [1, 77] view with stride 0 on its size-1 dimension, which reaches all 77).
     */
    static final class ExpansionBudget {
        private final long limit;
        private long total;

        ExpansionBudget(long fileBytes) {
            limit = Math.min(MAX_EXPANDED_TOTAL, Math.max(MIN_EXPANDED_TOTAL, fileBytes));
        }

        /** Null when {@code t} (already bounds-checked) is fine, else the problem with the numbers. */
        String charge(StoredTensor t) {
            long numel = t.info().numel();
            long span = t.span();
            if (numel <= span) return null;
            if (numel > MAX_EXPANDED_ELEMENTS) {
                return "a view that reaches " + span + " stored elements but has " + numel + " ("
                        + (numel * 4 >> 20) + " MiB as float32): expanded or overlapping views may have at most "
                        + MAX_EXPANDED_ELEMENTS + " elements";
            }
            total += numel;
            if (total > limit) {
                return "expanded or overlapping views add up to more than " + limit + " elements (the limit for a file of"
                        + " this size)";
            }
            return null;
        }
    }

    /** A name from a file for a message: printable, and at most 200 characters. */
    static String abbreviate(String s) {
        StringBuilder b = new StringBuilder();
        int n = Math.min(s.length(), 200);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            b.append(Character.isISOControl(c) ? '?' : c);
        }
        return s.length() > n ? b + "... (" + s.length() + " characters)" : b.toString();
    }

    static WeightStore open(Path path) {
        return open(path, MappedFile.DEFAULT_CHUNK_BYTES);
    }

    /** As {@link WeightStore#open}, mapping the file in chunks of {@code chunkBytes} (tests use small ones). */
    static WeightStore open(Path path, long chunkBytes) {
        if (!Files.exists(path)) throw new CheckpointException(path, "no such file");
        if (!Files.isRegularFile(path)) throw new CheckpointException(path, "not a regular file");
        MappedFile file;
        try {
            file = MappedFile.map(path, chunkBytes);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path, "no such file");
        } catch (IOException e) {
            throw new CheckpointException(path, "cannot map the file: " + e.getMessage(), e);
        }
        boolean ok = false;
        try {
            WeightStore store = switch (detect(file)) {
                case TORCH_ZIP -> TorchCheckpointReader.read(file);
                case SAFETENSORS -> SafetensorsReader.read(file);
            };
            ok = true;
            return store;
        } catch (CheckpointException e) {
            throw e;
        } catch (StackOverflowError e) {
            throw new CheckpointException(path, "its structure is nested too deeply to read");
        } catch (OutOfMemoryError e) {
            throw new CheckpointException(path, "reading its table of tensors needs more memory than the Java heap has ("
                    + (Runtime.getRuntime().maxMemory() >> 20) + " MiB); the file is corrupt or hostile");
        } catch (LinkageError e) {
            // a library reaching for an optional codec that is not on the class path
            throw new CheckpointException(path, "needs a decoder this build does not have (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            // a reader's own checks throw CheckpointException; anything else is a case they missed, still a bad file
            throw new CheckpointException(path, "corrupt or unsupported checkpoint: " + e.getMessage());
        } finally {
            if (!ok) file.close();
        }
    }

    enum Format { TORCH_ZIP, SAFETENSORS }

    private static Format detect(MappedFile file) {
        long size = file.size();
        if (size == 0) throw new CheckpointException(file.path(), "empty file");
        byte[] head = file.bytes(0, (int) Math.min(9, size));
        if (head.length >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return Format.TORCH_ZIP;
        if (head.length == 9 && head[8] == '{') {
            long n = ByteBuffer.wrap(head, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n > 0) return Format.SAFETENSORS;
        }
        // after the safetensors test: a header length whose low byte is 0x80 looks like a pickle PROTO opcode
        if (head.length >= 2 && (head[0] & 0xff) == 0x80 && head[1] >= 1 && head[1] <= 5) {
            throw new CheckpointException(file.path(), "a bare pickle (legacy torch.save format, or not a checkpoint): only"
                    + " zip-format torch checkpoints (PyTorch ≥ 1.6) and .safetensors are supported");
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : head) hex.append(String.format("%02x ", b & 0xff));
        throw new CheckpointException(file.path(), "neither a torch zip checkpoint nor a safetensors file (first bytes: "
                + hex.toString().trim() + ")");
    }
}
