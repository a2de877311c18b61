package dev.autodir.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Writes small checkpoint files for tests: safetensors from tensors or a raw header, torch zips from parts. */
final class TestFiles {
    private TestFiles() { }

    record Raw(DType dtype, int[] shape, byte[] data) { }

    static byte[] le(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    static byte[] le16(int... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : v) b.putShort((short) x);
        return b.array();
    }

    static byte[] le64(long... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) b.putLong(x);
        return b.array();
    }

    static byte[] le32(int... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : v) b.putInt(x);
        return b.array();
    }

    static byte[] leDouble(double... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) b.putDouble(x);
        return b.array();
    }

    /** A valid safetensors file; {@code headerPad} extra spaces shift the data section (to test alignment). */
    static Path safetensors(Path file, Map<String, Raw> tensors, int headerPad) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Map.Entry<String, Raw> e : tensors.entrySet()) {
            ObjectNode t = root.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype().name());
            var shape = t.putArray("shape");
            for (int d : e.getValue().shape()) shape.add(d);
            t.putArray("data_offsets").add(offset).add(offset + e.getValue().data().length);
            offset += e.getValue().data().length;
        }
        String header = json.writeValueAsString(root) + " ".repeat(headerPad);
        byte[] data = new byte[(int) offset];
        int p = 0;
        for (Raw r : tensors.values()) {
            System.arraycopy(r.data(), 0, data, p, r.data().length);
            p += r.data().length;
        }
        return rawSafetensors(file, header, data);
    }

    /** A safetensors file from a header written by hand (which may lie) and a data section. */
    static Path rawSafetensors(Path file, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(file, b.array());
        return file;
    }

    /** A torch.save-style zip: {@code prefix/data.pkl}, {@code prefix/data/<key>} entries, {@code prefix/version}. */
    static Path torchZip(Path file, String prefix, byte[] pickle, Map<String, byte[]> storages, boolean deflateStorages)
            throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put(prefix + "/data.pkl", pickle);
        for (Map.Entry<String, byte[]> s : storages.entrySet()) entries.put(prefix + "/data/" + s.getKey(), s.getValue());
        entries.put(prefix + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        return zip(file, entries, deflateStorages ? prefix + "/data/" : null);
    }

    /** A zip of stored entries; entries whose names start with {@code deflatePrefix} are deflated instead. */
    static Path zip(Path file, Map<String, byte[]> entries, String deflatePrefix) throws IOException {
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream z = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry ze = new ZipEntry(e.getKey());
                boolean deflate = deflatePrefix != null && e.getKey().startsWith(deflatePrefix);
                ze.setMethod(deflate ? ZipEntry.DEFLATED : ZipEntry.STORED);
                if (!deflate) {
                    CRC32 crc = new CRC32();
                    crc.update(e.getValue());
                    ze.setSize(e.getValue().length);
                    ze.setCompressedSize(e.getValue().length);
                    ze.setCrc(crc.getValue());
                }
                z.putNextEntry(ze);
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return file;
    }
}
