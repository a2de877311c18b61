package dev.autodir.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Content sniffing must not mistake a safetensors header length ending in byte 0x80 for a pickle. */
class FormatDetectionTest {
    @Test
    void safetensorsWhoseHeaderLengthStartsWith0x80IsNotAPickle(@TempDir Path dir) throws Exception {
        String json = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        StringBuilder header = new StringBuilder(json);
        while (header.length() < 0x180) header.append(' ');           // length 0x180: first byte 0x80, second 0x01
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.write(h);
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array());
        Path f = dir.resolve("w.safetensors");
        Files.write(f, out.toByteArray());
        assertEquals(0x80, out.toByteArray()[0] & 0xff);
        assertEquals(1, out.toByteArray()[1]);
        try (WeightStore s = WeightStore.open(f)) {
            assertArrayEquals(new float[] {1.5f, -2f}, s.readFloat("x").data());
        }
    }
}
