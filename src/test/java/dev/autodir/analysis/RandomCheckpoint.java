package dev.autodir.analysis;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.io.RandomWeightStore;
import dev.autodir.model.AutoDIRConfig;
import dev.autodir.tensor.FloatTensor;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes {@link RandomWeightStore}'s random weights of the official sizes as a float32 {@code .safetensors} file, so
 * that {@code bin/autodir restore --weights FILE} runs the full-size networks from a real checkpoint file (memory-mapped
 * like the official one) without the official weights (an analysis tool, run by hand):
 * {@code RandomCheckpoint OUT.safetensors [SEED]}. About 4.3 GB.
 */
public final class RandomCheckpoint {
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        long seed = args.length > 1 ? Long.parseLong(args[1]) : 7;
        AutoDIRConfig cfg = AutoDIRConfig.official();
        RandomWeightStore store = new RandomWeightStore(cfg, seed);
        ObjectNode header = new ObjectMapper().createObjectNode();
        long offset = 0;
        for (String key : store.keys()) {
            int[] shape = store.info(key).shape();
            long n = 1;
            for (int d : shape) n *= d;
            ObjectNode e = header.putObject(key);
            e.put("dtype", "F32");
            var s = e.putArray("shape");
            for (int d : shape) s.add(d);
            var o = e.putArray("data_offsets");
            o.add(offset);
            o.add(offset + 4 * n);
            offset += 4 * n;
        }
        byte[] json = new ObjectMapper().writeValueAsBytes(header);
        int pad = (8 - json.length % 8) % 8;
        byte[] headerBytes = new byte[json.length + pad];
        System.arraycopy(json, 0, headerBytes, 0, json.length);
        for (int i = json.length; i < headerBytes.length; i++) headerBytes[i] = ' ';
        Path tmp = out.resolveSibling(out.getFileName() + ".part");
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 22)) {
            os.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length).array());
            os.write(headerBytes);
            for (String key : store.keys()) {
                FloatTensor t = store.readFloat(key);
                ByteBuffer b = ByteBuffer.allocate(4 * t.numel()).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(t.data());
                os.write(b.array());
            }
        }
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println(out + ": " + store.keys().size() + " tensors, " + (offset + 8 + headerBytes.length) + " bytes, "
                + "header " + json.length + " bytes");
    }
}
