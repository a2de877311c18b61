package dev.autodir.backend.cpu;

import dev.autodir.backend.Shapes;
import dev.autodir.tensor.FloatTensor;

/** The cpu backend's diffusion helpers, in the float32 order of operations of ldm and k-diffusion. */
final class DiffusionMath {
    private DiffusionMath() { }

    /** ldm timestep_embedding (repeat_only=False): [cos(t·f), sin(t·f)], f_i = exp(−ln(10000)·i/half), float32. */
    static FloatTensor timestepEmbedding(FloatTensor t, int dim) {
        Shapes.timestepEmbedding(t.shape(), dim);
        int b = t.dim(0), half = dim / 2;
        float[] freqs = new float[half];
        float lnMax = (float) Math.log(10000);                          // -math.log(max_period) as a Python float
        for (int i = 0; i < half; i++) {
            float a = -lnMax * (float) i;                               // -log(10000) * arange(half) (float32)
            freqs[i] = (float) Math.exp(a / half);                      // torch.exp(... / half)
        }
        float[] out = new float[b * dim];
        for (int r = 0; r < b; r++) {
            float tv = t.data()[r];
            for (int i = 0; i < half; i++) {
                float arg = tv * freqs[i];
                out[r * dim + i] = (float) Math.cos(arg);
                out[r * dim + half + i] = (float) Math.sin(arg);
            }
            // an odd dim gets a zero column at the end, as ldm pads
        }
        return new FloatTensor(out, b, dim);
    }

    static FloatTensor cfgCombine(FloatTensor cond, FloatTensor img, FloatTensor uncond, float sText, float sImg) {
        Shapes.same("cfgCombine", cond.shape(), img.shape(), uncond.shape());
        float[] c = cond.data(), i = img.data(), u = uncond.data(), o = new float[c.length];
        for (int k = 0; k < o.length; k++) o[k] = u[k] + sText * (c[k] - i[k]) + sImg * (i[k] - u[k]);
        return new FloatTensor(o, cond.shape());
    }

    static FloatTensor eulerAncestralStep(FloatTensor z, FloatTensor denoised, FloatTensor noise, float sigma, float sigmaDown, float sigmaUp) {
        if (noise == null) Shapes.same("eulerAncestralStep", z.shape(), denoised.shape());
        else Shapes.same("eulerAncestralStep", z.shape(), denoised.shape(), noise.shape());
        float dt = sigmaDown - sigma;
        float[] x = z.data(), d = denoised.data(), o = new float[x.length];
        for (int k = 0; k < o.length; k++) {
            float deriv = (x[k] - d[k]) / sigma;                        // to_d
            o[k] = x[k] + deriv * dt;
        }
        if (noise != null) {
            float[] n = noise.data();
            for (int k = 0; k < o.length; k++) o[k] = o[k] + n[k] * sigmaUp;   // noise * s_noise(1) * sigma_up
        }
        return new FloatTensor(o, z.shape());
    }
}
