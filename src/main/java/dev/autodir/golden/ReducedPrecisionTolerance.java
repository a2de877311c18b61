package dev.autodir.golden;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.EnumMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tolerances for the chained outputs (sampler, assessment, pipeline) of a reduced-precision run (FP16), derived from the
 * FP16 errors of the networks themselves, measured in the same run by the network cases.
 *
 * <p>Derivation (first-order error propagation, upper bounds rather than estimates):
 * <ul>
 *   <li>Each network adds its own measured relative error e_net to its output and passes its input's relative error
 *       through with gain 1 (the networks are smooth and normalised: GroupNorm / LayerNorm at every block).</li>
 *   <li>A sampler step moves x by a multiple ≤ 1 of (x − D)/σ·|Δσ|, so each of the n steps adds at most the
 *       denoiser's error, and the errors of n steps add up at most linearly: n·A·e_unet, where
 *       A = |s_t| + |s_i − s_t| + |1 − s_i| bounds the guided combination
 *       s_t·cond + (s_i − s_t)·img + (1 − s_i)·uncond (A = 1 without guidance).</li>
 *   <li>CLIP scores: logits = s·cos(text, image) with s = exp(logit_scale); a relative error e_clip of each embedding
 *       moves a cosine by at most 2·e_clip, a logit by 2·s·e_clip, and (softmax being 1/2-Lipschitz) a probability by
 *       at most s·e_clip; used as the relative bound S = 2·s·e_clip for logits, probabilities and the soft mixture
 *       (which adds e_clip of the hidden states).</li>
 *   <li>A pipeline pass chains assessment, encoder, sampler, decoder and SCM: P = S + e_clip + e_enc + n·A·e_unet
 *       + e_dec + e_scm; pass k starts from the output of pass k − 1, so its inputs carry k·P.</li>
 *   <li>Values the host computes in float32 whatever the backend's precision (σ, t, the first CLIP pixel values, the
 *       colour fix) keep the manifest's own tolerance; integers stay exact; uint8 images are reported, not gated (the
 *       float image they are quantised from is gated); an argmax whose fixture margin is within twice the derived
 *       probability error is a near-tie, and what follows from it is reported, not gated.</li>
 * </ul>
 * A network whose case the set lacks is taken at the floor tolerance (2e-3 for FP16).
 */
public final class ReducedPrecisionTolerance {
    /** The networks whose FP16 error feeds the chained tolerances. */
    public enum Network { UNET, VAE_ENCODE, VAE_DECODE, SCM, CLIP }

    /** Host-exact: apply the manifest's own tolerance. */
    public static final double HOST = 0;
    /** Not gated: report only. */
    public static final double REPORT = Double.NaN;

    private static final Pattern ITER = Pattern.compile("^output_iter(\\d+)_(.*)$");

    private final Map<Network, Double> worst = new EnumMap<>(Network.class);
    private final double floor;
    private final double logitScale;

    /**
     * @param floor      the per-network floor (the assumed error of a network the set does not check)
     * @param logitScale s = exp(logit_scale) of the model's CLIP
     */
    public ReducedPrecisionTolerance(double floor, double logitScale) {
        this.floor = floor;
        this.logitScale = logitScale;
    }

    /** The network a network case checks (null for chained or derived cases and for CLIP logits). */
    public static Network networkOf(String caseName, String tensor) {
        return switch (caseName) {
            case "unet", "apply_model" -> Network.UNET;
            case "vae_encode" -> Network.VAE_ENCODE;
            case "vae_decode" -> Network.VAE_DECODE;
            case "nafnet" -> Network.SCM;
            case "clip_text", "clip_vision", "clip_null_prompt" -> Network.CLIP;
            case "clip_model" -> tensor.contains("logits") ? null : Network.CLIP;
            default -> null;
        };
    }

    /** Records a network output's measured relative error (the worst per network is kept). */
    public void record(Network n, double relL2) {
        if (Double.isFinite(relL2)) worst.merge(n, relL2, Math::max);
    }

    /** The network's measured error, or the floor when none was measured. */
    public double error(Network n) {
        return worst.getOrDefault(n, floor);
    }

    public boolean measured(Network n) { return worst.containsKey(n); }

    /**
     * The tolerance of a chained or derived float output: {@link #HOST}, {@link #REPORT}, or the derived relative-L2
     * bound (at least the floor).
     */
    public double tolerance(String caseName, String tensor, JsonNode info) {
        double s = 2 * logitScale * error(Network.CLIP), clip = error(Network.CLIP);
        double sampler = steps(info) * guidance(info) * error(Network.UNET);
        if (caseName.equals("color_fix")) return HOST;
        if (caseName.equals("clip_model")) return tensor.contains("logits") ? atLeastFloor(s) : REPORT;
        if (caseName.equals("clip_assessment")) {
            return switch (tensor) {
                case "output_pixel_values" -> HOST;
                case "output_logits_per_image", "output_probs" -> atLeastFloor(s);
                case "output_c_crossattn" -> atLeastFloor(s + clip);
                default -> REPORT;
            };
        }
        if (caseName.startsWith("sampler_cfg_")) {
            return switch (tensor) {
                case "output_sigmas", "output_t" -> HOST;
                case "output_step0_branches" -> atLeastFloor(error(Network.UNET));
                case "output_x_steps", "output_denoised_steps", "output_z" -> atLeastFloor(sampler);
                default -> REPORT;
            };
        }
        if (caseName.equals("pipeline") || caseName.equals("pipeline_customize")) {
            if (tensor.equals("output_null_token")) return atLeastFloor(clip);
            Matcher m = ITER.matcher(tensor);
            if (!m.matches()) return REPORT;
            int k = Integer.parseInt(m.group(1));
            String what = m.group(2);
            boolean automatic = !info.path("customize").isTextual();
            double conditioning = (automatic ? s : 0) + clip;
            double chain = k * passError(info, automatic);
            double enc = error(Network.VAE_ENCODE), dec = error(Network.VAE_DECODE), scm = error(Network.SCM);
            return switch (what) {
                case "sigmas", "t" -> HOST;
                case "pixel_values" -> k == 0 ? HOST : atLeastFloor(chain);
                case "probs", "logits_per_image" -> atLeastFloor(chain + s);
                case "c_crossattn" -> atLeastFloor(chain + conditioning);
                case "c_concat" -> atLeastFloor(chain + enc);
                case "x_steps", "denoised_steps", "z" -> atLeastFloor(chain + conditioning + enc + sampler);
                case "x_decoded" -> atLeastFloor(chain + conditioning + enc + sampler + dec);
                case "result_scm" -> atLeastFloor(chain + conditioning + enc + sampler + dec + scm);
                default -> REPORT;
            };
        }
        return REPORT;
    }

    /** P: the relative error one pass adds to the image it hands on. */
    double passError(JsonNode info, boolean automatic) {
        double clip = error(Network.CLIP);
        return (automatic ? 2 * logitScale * clip : 0) + clip + error(Network.VAE_ENCODE)
                + steps(info) * guidance(info) * error(Network.UNET) + error(Network.VAE_DECODE) + error(Network.SCM);
    }

    /**
     * The first pass of a pipeline case whose outputs are reported rather than gated: the pass after the first argmax
     * whose fixture margin ({@code iterations[k].top2_prob_margin}) is within twice its derived probability error;
     * {@code Integer.MAX_VALUE} when every decision is clear.
     */
    public int nearTieFrom(JsonNode info) {
        JsonNode its = info.path("iterations");
        boolean automatic = !info.path("customize").isTextual();
        for (int k = 0; k < its.size(); k++) {
            double margin = its.get(k).path("top2_prob_margin").asDouble(Double.POSITIVE_INFINITY);
            double probError = k * passError(info, automatic) + 2 * logitScale * error(Network.CLIP);
            if (margin <= 2 * probError) return k + 1;
        }
        return Integer.MAX_VALUE;
    }

    /**
     * Whether an output is decided by an argmax that FP16 may flip: a pipeline output of a pass after a near-tie
     * ({@link #nearTieFrom}), or the assessment's main index when its fixture margin is within twice the derived
     * probability error.
     */
    public boolean nearTie(String caseName, String tensor, JsonNode info) {
        if (caseName.equals("pipeline") || caseName.equals("pipeline_customize")) return passOf(tensor) >= nearTieFrom(info);
        if (caseName.equals("clip_assessment") && tensor.equals("output_main_index")) {
            return info.path("top2_prob_margin").asDouble(Double.POSITIVE_INFINITY) <= 2 * 2 * logitScale * error(Network.CLIP);
        }
        return false;
    }

    /** The pass index of a pipeline output (-1 for others). */
    public static int passOf(String tensor) {
        Matcher m = ITER.matcher(tensor);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    private double atLeastFloor(double t) { return Math.max(floor, t); }

    private static int steps(JsonNode info) { return Math.max(1, info.path("steps").asInt(1)); }

    /** A = |s_t| + |s_i − s_t| + |1 − s_i|: the gain of the guided combination on its branches' errors. */
    static double guidance(JsonNode info) {
        double t = info.path("cfg_text").asDouble(1), i = info.path("cfg_image").asDouble(1);
        return Math.abs(t) + Math.abs(i - t) + Math.abs(1 - i);
    }
}
