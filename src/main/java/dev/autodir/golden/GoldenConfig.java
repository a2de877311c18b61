package dev.autodir.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.autodir.model.ModelYaml;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Turns a fixture manifest's {@code configs} section into the engine's YAML config layout, so the values that
 * tensor shapes cannot tell (head counts, schedule) come from the fixture itself and nothing about set A is
 * hard-coded.
 */
public final class GoldenConfig {
    private GoldenConfig() { }

    public static ModelYaml yaml(GoldenSet set) {
        JsonNode c = set.configs();
        ObjectMapper om = new ObjectMapper();
        Map<String, Object> params = new LinkedHashMap<>();
        JsonNode diffusion = c.path("diffusion");
        for (String k : new String[] {"linear_start", "linear_end", "timesteps", "scale_factor"}) {
            if (diffusion.has(k)) params.put(k, om.convertValue(diffusion.get(k), Object.class));
        }
        if (c.has("unet")) params.put("unet_config", Map.of("params", om.convertValue(c.path("unet").path("params"), Map.class)));
        if (c.has("vae")) params.put("first_stage_config", Map.of("params", om.convertValue(c.path("vae"), Map.class)));
        if (c.has("nafnet")) params.put("scm_config", Map.of("params", om.convertValue(c.path("nafnet").path("params"), Map.class)));
        if (c.has("clip")) {
            JsonNode clip = c.path("clip");
            Map<String, Object> cp = new LinkedHashMap<>();
            if (clip.has("projection_dim")) cp.put("projection_dim", clip.get("projection_dim").asInt());
            Map<String, Object> text = new LinkedHashMap<>(om.convertValue(clip.path("text"), Map.class));
            Map<String, Object> vision = new LinkedHashMap<>(om.convertValue(clip.path("vision"), Map.class));
            if (clip.has("layer_norm_eps")) {
                text.putIfAbsent("layer_norm_eps", clip.get("layer_norm_eps").asDouble());
                vision.putIfAbsent("layer_norm_eps", clip.get("layer_norm_eps").asDouble());
            }
            cp.put("text_config", text);
            cp.put("vision_config", vision);
            params.put("assessment_config", Map.of("params", cp));
        }
        return ModelYaml.fromMap(set.dir().resolve("manifest.json") + " (configs)", Map.of("model", Map.of("params", params)));
    }
}
