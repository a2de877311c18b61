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
 */
final class WeightStores {
    private WeightStores() { }

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
        Format format;
        try {
            format = detect(file);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
        return switch (format) {
            case TORCH_ZIP -> TorchCheckpointReader.read(file);
            case SAFETENSORS -> SafetensorsReader.read(file);
        };
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
