package dev.autodir.image;

/**
 * The official conversions between stored integer pixels and the model's [-1, 1] floats, in float32
 * arithmetic exactly as PyTorch evaluates them.
 *
 * <ul>
 *   <li>Reading ({@code eval_w_SCM.py}): {@code 2 * torch.tensor(uint8).float() / 255 - 1}, i.e.
 *       {@code (2·v) / 255 − 1}; for 16-bit sources we use {@code (2·v) / 65535 − 1} (the official
 *       script would go through PIL's 8-bit conversion instead).</li>
 *   <li>Writing: {@code (255 * clamp((x + 1) / 2, 0, 1)).type(torch.uint8)}, which <b>truncates</b>;
 *       NaN becomes 0. The 16-bit variant multiplies by 65535.</li>
 * </ul>
 * The two are not inverse: because of float rounding and truncation, reading an 8-bit level
 * {@code v} in 1..63 and writing it back gives {@code v − 1}, exactly as in the official code.
 */
public final class Quantization {
    private static final float[] FROM_UINT8 = new float[256];
    private static final float[] FROM_UINT16 = new float[65536];

    static {
        for (int v = 0; v < 256; v++) FROM_UINT8[v] = (2f * v) / 255f - 1f;
        for (int v = 0; v < 65536; v++) FROM_UINT16[v] = (2f * v) / 65535f - 1f;
    }

    private Quantization() { }

    /** {@code (2·v)/255 − 1} in float32, for v in 0..255. */
    public static float fromUint8(int v) { return FROM_UINT8[v]; }

    /** {@code (2·v)/65535 − 1} in float32, for v in 0..65535. */
    public static float fromUint16(int v) { return FROM_UINT16[v]; }

    /** {@code trunc(clamp((x+1)/2, 0, 1) · 255)} in float32; NaN gives 0. */
    public static int toUint8(float x) {
        return (int) (unit(x) * 255f);
    }

    /** {@code trunc(clamp((x+1)/2, 0, 1) · 65535)} in float32; NaN gives 0. */
    public static int toUint16(float x) {
        return (int) (unit(x) * 65535f);
    }

    private static float unit(float x) {
        float u = (x + 1f) / 2f;
        if (!(u > 0f)) return 0f; // NaN → 0 (what torch's uint8 cast of NaN gives on x86; formally undefined)
        return Math.min(u, 1f);
    }
}
