package dev.autodir.compare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.autodir.image.Quantization;
import dev.autodir.image.RgbImageWriter;
import dev.autodir.io.WeightStore;
import dev.autodir.tensor.FloatTensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The comparison as a table (stdout), JSON and an HTML page with the images, difference maps and a stage-time chart. */
public final class CompareReport {
    /** Stage columns of the table and the chart, with their labels. */
    static final String[][] STAGES = {{"assess", "BIQA"}, {"vae_encode", "VAE enc"}, {"unet_step", "UNet step"}, {"sample", "sampling"},
            {"vae_decode", "VAE dec"}, {"scm", "SCM"}, {"pass", "pass"}};

    private CompareReport() { }

    public static String table(Comparison.Result r) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-18s", "engine"));
        for (String[] st : STAGES) s.append(String.format(Locale.ROOT, " %10s", st[1]));
        s.append(String.format(Locale.ROOT, " %9s %9s %8s %7s %6s %6s  %s%n", "peak MB", "unet rL2", "PSNR", "SSIM", "max|Δ|", "class", "notes"));
        for (Comparison.EngineResult e : r.engines()) {
            s.append(String.format(Locale.ROOT, "%-18s", e.engine() + (e == r.engines().get(0) ? " (ref)" : "")));
            if (!"ran".equals(e.status())) {
                s.append("  ").append(e.status().toUpperCase(Locale.ROOT)).append(": ").append(e.reason()).append('\n');
                continue;
            }
            for (String[] st : STAGES) {
                Double v = e.medianMs().get(st[0]);
                s.append(v == null ? String.format(Locale.ROOT, " %10s", "-") : String.format(Locale.ROOT, " %8.1fms", v));
            }
            Comparison.Deviation d = e.deviation();
            double[] unet = d.networks().get("unet/eps");
            s.append(String.format(Locale.ROOT, " %9s %9s %8s %7.4f %6d %6s  %s%n", e.peakRssBytes() < 0 ? "-" : String.valueOf(e.peakRssBytes() >> 20),
                    unet == null ? "-" : String.format(Locale.ROOT, "%.2e", unet[0]), psnr(d.image().psnr()), d.image().ssim(),
                    d.image().maxUint8Diff(), d.sameClass() == null ? "-" : d.sameClass() ? "same" : "DIFF", e.backend()));
        }
        return s.toString();
    }

    private static String psnr(double p) { return Double.isInfinite(p) ? "inf" : String.format(Locale.ROOT, "%.2f", p); }

    public static ObjectNode json(Comparison.Result r) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        Comparison.Options o = r.options();
        root.put("image", o.imageName());
        root.put("weights", o.weights() == null ? "random (official sizes)" : o.weights().toString());
        ObjectNode s = root.putObject("settings");
        s.put("steps", o.steps()).put("runs", o.runs()).put("warmup", o.warmup()).put("seed", o.seed()).put("cfg_text", o.cfgText())
                .put("cfg_image", o.cfgImage()).put("scm_weight", o.scmWeight()).put("max_passes", o.maxPasses())
                .put("isolated_processes", !o.inProcess());
        if (r.calibrationHash() != null) root.put("calibration", r.calibrationHash());
        root.put("reference", r.engines().get(0).engine().toString());
        ArrayNode engines = root.putArray("engines");
        for (Comparison.EngineResult e : r.engines()) {
            ObjectNode n = engines.addObject();
            n.put("engine", e.engine().toString());
            n.put("status", e.status());
            if (e.reason() != null) n.put("reason", e.reason());
            if (!"ran".equals(e.status())) continue;
            n.put("backend", e.backend());
            ObjectNode t = n.putObject("median_ms");
            e.medianMs().forEach(t::put);
            if (e.peakRssBytes() >= 0) n.put("peak_rss_bytes", e.peakRssBytes());
            ArrayNode cls = n.putArray("classes");
            e.classes().forEach(cls::add);
            ObjectNode d = n.putObject("deviation");
            ObjectNode nets = d.putObject("networks");
            e.deviation().networks().forEach((k, v) -> nets.putObject(k).put("rel_l2", v[0]).put("max_abs", v[1]));
            ImageMetrics im = e.deviation().image();
            ObjectNode img = d.putObject("image");
            if (Double.isInfinite(im.psnr())) img.putNull("psnr_db").put("identical", true);
            else img.put("psnr_db", im.psnr()).put("identical", false);
            img.put("ssim", im.ssim()).put("max_uint8_diff", im.maxUint8Diff());
            ObjectNode b = d.putObject("biqa");
            if (e.deviation().sameClass() != null) b.put("same_class", e.deviation().sameClass());
            if (!Double.isNaN(e.deviation().maxProbChange())) b.put("max_probability_change", e.deviation().maxProbChange());
        }
        return root;
    }

    public static void writeJson(Comparison.Result r, Path file) {
        write(file, bytes(() -> new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(json(r))));
    }

    /** A self-contained HTML page: images inline (PNG data URIs), an SVG bar chart of the stage times. */
    public static void writeHtml(Comparison.Result r, Path file) {
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>autodir compare</title>\n<style>")
                .append("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;")
                .append("text-align:right}th:first-child,td:first-child{text-align:left}figure{display:inline-block;margin:0 1em 1em 0}")
                .append("img{image-rendering:pixelated;max-width:360px;border:1px solid #888}figcaption{font-size:small}</style></head><body>\n");
        h.append("<h1>autodir compare</h1>\n<p>").append(esc(r.options().imageName())).append(" · ").append(r.options().steps())
                .append(" steps · median of ").append(r.options().runs()).append(" run(s) · reference ").append(esc(r.engines().get(0).engine().toString()))
                .append("</p>\n<table id=\"figures\"><tr><th>engine</th>");
        for (String[] st : STAGES) h.append("<th>").append(st[1]).append(" ms</th>");
        h.append("<th>peak MB</th><th>UNet rel-L2</th><th>PSNR dB</th><th>SSIM</th><th>max |Δ| uint8</th><th>BIQA class</th></tr>\n");
        for (Comparison.EngineResult e : r.engines()) {
            h.append("<tr><td>").append(esc(e.engine().toString())).append("</td>");
            if (!"ran".equals(e.status())) {
                h.append("<td colspan=\"").append(STAGES.length + 6).append("\" style=\"text-align:left\">").append(esc(e.status() + ": " + e.reason())).append("</td></tr>\n");
                continue;
            }
            for (String[] st : STAGES) {
                Double v = e.medianMs().get(st[0]);
                h.append("<td>").append(v == null ? "-" : String.format(Locale.ROOT, "%.1f", v)).append("</td>");
            }
            Comparison.Deviation d = e.deviation();
            double[] unet = d.networks().get("unet/eps");
            h.append("<td>").append(e.peakRssBytes() < 0 ? "-" : e.peakRssBytes() >> 20).append("</td><td>")
                    .append(unet == null ? "-" : String.format(Locale.ROOT, "%.2e", unet[0])).append("</td><td>").append(psnr(d.image().psnr()))
                    .append("</td><td>").append(String.format(Locale.ROOT, "%.4f", d.image().ssim())).append("</td><td>").append(d.image().maxUint8Diff())
                    .append("</td><td>").append(d.sameClass() == null ? "-" : d.sameClass() ? "same" : "different").append("</td></tr>\n");
        }
        h.append("</table>\n<h2>Stage times</h2>\n").append(chart(r)).append("\n<h2>Outputs</h2>\n");
        FloatTensor ref = null;
        for (int i = 0; i < r.engines().size(); i++) {
            Comparison.EngineResult e = r.engines().get(i);
            if (!"ran".equals(e.status())) continue;
            FloatTensor img;
            try (WeightStore s = WeightStore.open(Comparison.engineDir(r.workDir(), i, e.engine()).resolve("outputs.safetensors"))) {
                img = s.readFloat("final");
            }
            if (ref == null) ref = img;
            h.append("<figure><img alt=\"output of ").append(esc(e.engine().toString())).append("\" src=\"").append(png(RgbImageWriter.toBufferedImage(img, 8)))
                    .append("\"><figcaption>").append(esc(e.engine().toString())).append("</figcaption></figure>\n");
            if (i > 0) {
                h.append("<figure><img alt=\"difference map of ").append(esc(e.engine().toString())).append("\" src=\"").append(png(heatMap(img, ref)))
                        .append("\"><figcaption>|").append(esc(e.engine().toString())).append(" − reference| (scaled to its max ")
                        .append(e.deviation().image().maxUint8Diff()).append(")</figcaption></figure>\n");
            }
        }
        h.append("</body></html>\n");
        write(file, h.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Grouped bars: one group per stage, one bar per engine that ran. */
    static String chart(Comparison.Result r) {
        List<Comparison.EngineResult> ran = new ArrayList<>();
        for (Comparison.EngineResult e : r.engines()) if ("ran".equals(e.status())) ran.add(e);
        String[] stages = {"assess", "vae_encode", "sample", "vae_decode", "scm"};
        double max = 1e-9;
        for (Comparison.EngineResult e : ran) for (String st : stages) max = Math.max(max, e.medianMs().getOrDefault(st, 0.0));
        int barW = 18, gap = 24, groupW = ran.size() * barW + gap, height = 220, left = 50, top = 10;
        int width = left + stages.length * groupW + 160;
        String[] colours = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"};
        StringBuilder s = new StringBuilder();
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(width).append("\" height=\"").append(height + 60)
                .append("\" role=\"img\" aria-label=\"stage times per engine\">");
        s.append("<line x1=\"").append(left).append("\" y1=\"").append(top + height).append("\" x2=\"").append(width - 150).append("\" y2=\"")
                .append(top + height).append("\" stroke=\"black\"/>");
        s.append(String.format(Locale.ROOT, "<text x=\"0\" y=\"%d\" font-size=\"11\">%.0f ms</text>", top + 10, max));
        for (int g = 0; g < stages.length; g++) {
            for (int b = 0; b < ran.size(); b++) {
                double v = ran.get(b).medianMs().getOrDefault(stages[g], 0.0);
                double bh = v / max * height;
                s.append(String.format(Locale.ROOT, "<rect class=\"bar\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>%s %s %.1f ms</title></rect>",
                        left + g * groupW + b * barW, top + height - bh, barW - 2, bh, colours[b % colours.length], esc(ran.get(b).engine().toString()), stages[g], v));
            }
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>", left + g * groupW, top + height + 15, stages[g]));
        }
        for (int b = 0; b < ran.size(); b++) {
            s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>",
                    width - 140, top + 14 * b, colours[b % colours.length], width - 125, top + 14 * b + 9, esc(ran.get(b).engine().toString())));
        }
        return s.append("</svg>").toString();
    }

    /** |a − b| per pixel (largest channel difference in uint8 levels), scaled so the largest is white, on black–red–yellow–white. */
    static BufferedImage heatMap(FloatTensor a, FloatTensor b) {
        int h = a.dim(2), w = a.dim(3), plane = h * w;
        int[] d = new int[plane];
        int max = 1;
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < plane; i++) {
                int v = Math.abs(Quantization.toUint8(a.data()[c * plane + i]) - Quantization.toUint8(b.data()[c * plane + i]));
                d[i] = Math.max(d[i], v);
                max = Math.max(max, v);
            }
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < plane; i++) {
            double t = (double) d[i] / max;                                      // 0 … 1
            int r = (int) Math.round(255 * Math.min(1, 3 * t)), g = (int) Math.round(255 * Math.max(0, Math.min(1, 3 * t - 1))),
                    bl = (int) Math.round(255 * Math.max(0, 3 * t - 2));
            img.setRGB(i % w, i / w, (r << 16) | (g << 8) | bl);
        }
        return img;
    }

    private static String png(BufferedImage img) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(out.toByteArray());
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private interface IoSupplier { byte[] get() throws IOException; }

    private static byte[] bytes(IoSupplier s) {
        try {
            return s.get();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void write(Path file, byte[] data) {
        try {
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) Files.createDirectories(dir);
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            Files.write(tmp, data);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** For tests: the engines' status by name. */
    static Map<String, String> statuses(Comparison.Result r) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        r.engines().forEach(e -> m.put(e.engine().toString(), e.status()));
        return m;
    }
}
