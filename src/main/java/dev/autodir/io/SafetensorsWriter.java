package dev.autodir.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * Writes float32 and int32 host tensors as a {@code .safetensors} file (the format {@link WeightStore#open} reads):
 * for intermediate results handed between processes (the engines of {@code compare}). The file appears atomically.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() { }

    /** tensors: name → FloatTensor (F32) or IntTensor (I32). */
    public static void write(Path file, Map<String, ?> tensors) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        long offset = 0;
        for (Map.Entry<String, ?> e : tensors.entrySet()) {
            int[] shape;
            String dtype;
            long bytes;
            if (e.getValue() instanceof FloatTensor f) {
                shape = f.shape(); dtype = "F32"; bytes = 4L * f.numel();
            } else if (e.getValue() instanceof IntTensor i) {
                shape = i.shape(); dtype = "I32"; bytes = 4L * i.numel();
            } else {
                throw new IllegalArgumentException("safetensors: " + e.getKey() + " is not a FloatTensor or IntTensor");
            }
            ObjectNode t = root.putObject(e.getKey());
            t.put("dtype", dtype);
            var s = t.putArray("shape");
            for (int d : shape) s.add(d);
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] header;
        try {
            String h = json.writeValueAsString(root);
            while ((8 + h.length()) % 8 != 0) h += " ";                       // data section 8-byte aligned
            header = h.getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            out.write(header);
            for (Object v : tensors.values()) {
                ByteBuffer b;
                if (v instanceof FloatTensor f) {
                    b = ByteBuffer.allocate(4 * f.numel()).order(ByteOrder.LITTLE_ENDIAN);
                    b.asFloatBuffer().put(f.data());
                } else {
                    IntTensor i = (IntTensor) v;
                    b = ByteBuffer.allocate(4 * i.numel()).order(ByteOrder.LITTLE_ENDIAN);
                    b.asIntBuffer().put(i.data());
                }
                out.write(b.array());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
