package dev.autodir.quant;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuantRecipeTest {
    private static final String U = "model.diffusion_model.";

    @Test void defaultsKeepNvidiasLayersPrecise() {
        QuantRecipe r = QuantRecipe.defaults(List.of(), List.of());
        for (String kept : new String[] {"input_blocks.0.0.weight", "time_embed.0.weight", "time_embed.2.weight",
                "input_blocks.1.0.emb_layers.1.weight", "output_blocks.11.0.emb_layers.1.weight", "out.2.weight",
                "input_blocks.4.0.skip_connection.weight", "middle_block.1.proj_out.weight", "input_blocks.1.1.proj_out.weight"}) {
            assertFalse(r.quantizes(U + kept), kept + " must stay unquantized");
        }
        for (String quantized : new String[] {"input_blocks.1.0.in_layers.2.weight", "input_blocks.1.0.out_layers.3.weight",
                "input_blocks.1.1.proj_in.weight", "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
                "middle_block.1.transformer_blocks.0.ff.net.0.proj.weight", "input_blocks.3.0.op.weight"}) {
            assertTrue(r.quantizes(U + quantized), quantized + " must be quantized");
        }
        assertFalse(r.quantizes("NAFNet.encoders.0.0.conv2.weight"));
        assertTrue(r.quantizes("NAFNet.encoders.0.0.conv1.weight"));
        assertFalse(r.quantizes("first_stage_model.decoder.mid.attn_1.q.weight"));
        assertTrue(r.quantizes("first_stage_model.decoder.up.3.block.0.conv1.weight"));
        assertTrue(r.quantizes("model_assessment.clipmodel.text_model.encoder.layers.0.mlp.fc1.weight"));
    }

    @Test void exclusionsCanBeAddedAndDropped() {
        QuantRecipe r = QuantRecipe.defaults(List.of(U + "**.attn2.*"), List.of(U + "out.**"));
        assertFalse(r.quantizes(U + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"));
        assertTrue(r.quantizes(U + "input_blocks.1.1.transformer_blocks.0.attn1.to_k.weight"));
        assertTrue(r.quantizes(U + "out.2.weight"));
        assertThrows(IllegalArgumentException.class, () -> QuantRecipe.defaults(List.of(), List.of("not.a.default")));
    }
}
