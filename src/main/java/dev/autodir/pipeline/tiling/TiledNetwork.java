package dev.autodir.pipeline.tiling;

import dev.autodir.backend.CompiledNetwork;
import dev.autodir.backend.DataType;
import dev.autodir.backend.Network;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.TensorSpec;
import dev.autodir.backend.record.Graph;
import dev.autodir.backend.record.GraphInterpreter;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A convolutional network (the VAE encoder or decoder, the SCM) run tile by tile on any backend, with the whole-image
 * operations computed over the whole image, so that the result equals the untiled one up to float rounding.
 *
 * <p>The network is recorded once ({@link Graph#record}) and replayed node by node ({@link GraphInterpreter}) on
 * overlapping tiles. Three kinds of node need the whole image:
 * <ul>
 *   <li>{@code groupNorm}: each group's mean and variance are accumulated over every tile's core (shifted sums in
 *       double on the host, from the backend's per-channel means of x − shift and (x − shift)²), then every tile is
 *       normalised with the global values ({@code mulPerChannel}, {@code addPerChannel}, {@code silu});
 *   <li>{@code globalAvgPool} (NAFNet's simplified channel attention): the per-channel means of the cores, summed in
 *       double and divided by the whole map's size;
 *   <li>the single-head self-attention of the VAE's mid block ({@code nchwToTokens} ×3, {@code attention},
 *       {@code tokensToNchw}): over the whole latent when it has at most {@link Settings#globalAttentionTokens} tokens
 *       (exact), otherwise within overlapping windows whose outputs are blended with Gaussian weights (an
 *       approximation, as in the Tiled VAE reference; its deviation is measured in the tests).
 * </ul>
 * Everything else is tile-local. The graph is cut at these nodes into sweeps; each sweep evaluates, tile by tile, what
 * the next whole-image node needs. A tile is its core (a cell of a {@link TileGrid} over the coarsest map) plus the
 * margin its receptive field needs back to the maps that are available: found per tile by propagating the wanted core
 * backwards through every operation (convolution kernel, stride, padding, upsampling), so the margin is exactly as
 * wide as needed and the core of every result is exact. Validity is tracked forwards as well and a core that is not
 * exact would throw (it cannot happen unless an operation's rule is wrong).
 *
 * <p>Memory: a map needed by a later sweep is either kept, as the tiles' cores in native memory ({@link HostTiles},
 * the map held once, counted against {@link Settings#storeBudgetBytes}), or recomputed from kept maps in the sweep that
 * needs it (a longer chain per tile, so more margin and more work, but no memory). Maps are kept greedily by recompute
 * cost per byte while the budget lasts, and freed when no later sweep needs them. Per tile only that tile's
 * intermediates exist. So the memory of a tiled run is the budget plus one tile's working set, whatever the image size,
 * and the work grows linearly with the pixels (the recomputation adds a constant factor when the budget is small).
 *
 * <p>Lifetime: {@link #run} keeps its inputs ({@link Ops#keep}) and ends the backend's stage between tiles, so the
 * caller's other transient tensors do not survive it; the outputs are transient tensors of the backend, valid until
 * its next {@code endStage()}.
 */
public final class TiledNetwork implements CompiledNetwork {

    /** Hears about each tile of each sweep (for progress). */
    public interface TileListener {
        /**
         * @param sweep  0-based sweep (one per whole-image operation, then one for the outputs)
         * @param sweeps how many sweeps the run has
         * @param tile   0-based tile of this sweep
         * @param tiles  tiles per sweep
         */
        void onTile(String network, int sweep, int sweeps, int tile, int tiles);
    }

    /**
     * How to tile.
     *
     * @param corePixels            the side of a tile's core at the network's finest resolution (pixels), rounded to
     *                              whole cells of the coarsest map
     * @param storeBudgetBytes      native memory for the maps kept between sweeps (beyond it they are recomputed)
     * @param globalAttentionTokens attention over the whole map up to this many tokens; windowed above
     * @param listener              progress, or null
     */
    public record Settings(int corePixels, long storeBudgetBytes, int globalAttentionTokens, TileListener listener) {
        public Settings {
            if (corePixels < 1) throw new IllegalArgumentException("tile core must be at least 1 pixel, got " + corePixels);
            if (storeBudgetBytes < 0) throw new IllegalArgumentException("store budget must not be negative, got " + storeBudgetBytes);
            if (globalAttentionTokens < 0) throw new IllegalArgumentException("global attention tokens must not be negative");
        }

        /** 512-pixel cores, a budget of {@code storeBudgetBytes}, whole-map attention up to 128×128 tokens. */
        public static Settings of(long storeBudgetBytes) { return new Settings(512, storeBudgetBytes, DEFAULT_GLOBAL_ATTENTION_TOKENS, null); }

        public Settings withCorePixels(int p) { return new Settings(p, storeBudgetBytes, globalAttentionTokens, listener); }

        public Settings withListener(TileListener l) { return new Settings(corePixels, storeBudgetBytes, globalAttentionTokens, l); }

        public Settings withGlobalAttentionTokens(int n) { return new Settings(corePixels, storeBudgetBytes, n, listener); }
    }

    /**
     * Whole-map attention up to 128×128 tokens (a 1024² image's latent): its cost, 2·N²·C, stays below the VAE's
     * convolutions there; at 12 MP (196,608 tokens) it would cost about as much as all of them and grow with the
     * square of the pixels.
     */
    public static final int DEFAULT_GLOBAL_ATTENTION_TOKENS = 128 * 128;

    /** What the last run did (for reports and tests). */
    public record RunStats(int tiles, int sweeps, long peakStoredBytes, long nodeEvaluations, int nodes, boolean attentionWindowed,
                           int attentionWindows) {
        /** Evaluations per tile of each tile-wise node (all but the whole-image ones): 1 when nothing was recomputed. */
        public double recomputeFactor() { return tiles == 0 || nodes == 0 ? 0 : (double) nodeEvaluations / ((double) tiles * nodes); }
    }

    private enum Kind { GLOBAL, LOCAL, GROUP_NORM, POOL, ABSORBED, ATTENTION }

    private final Ops ops;
    private final Network network;
    private final Graph graph;
    private Settings settings;
    private final List<Graph.Node> nodes;
    private final Graph.Value[] values;         // by id
    private final boolean[] spatial;            // by value id
    private final int[] factor;                 // by value id: pixels per grid cell (spatial values)
    private final Kind[] kind;                  // by node index
    private final int[][] readers;              // by value id: node indices reading it
    private final Map<Integer, int[]> attentionMaps = new HashMap<>();   // ATTENTION node index → q, k, v map ids
    private final Map<Integer, Graph.Node> attentionNode = new HashMap<>();
    private final TileGrid grid;
    private final int coreCells;
    private final int syncCount;
    private RunStats lastStats;

    public TiledNetwork(Ops ops, Network network, Settings settings) {
        this.ops = ops;
        this.network = network;
        this.settings = settings;
        this.graph = Graph.record(network);
        this.nodes = graph.nodes();
        int count = 0;
        for (Graph.Value v : graph.inputs()) count = Math.max(count, v.id() + 1);
        for (Graph.Value v : graph.weights().values()) count = Math.max(count, v.id() + 1);
        for (Graph.Value v : graph.constants()) count = Math.max(count, v.id() + 1);
        for (Graph.Node n : nodes) count = Math.max(count, n.output().id() + 1);
        values = new Graph.Value[count];
        for (Graph.Value v : graph.inputs()) values[v.id()] = v;
        for (Graph.Value v : graph.weights().values()) values[v.id()] = v;
        for (Graph.Value v : graph.constants()) values[v.id()] = v;
        for (Graph.Node n : nodes) values[n.output().id()] = n.output();
        spatial = new boolean[count];
        factor = new int[count];
        kind = new Kind[nodes.size()];
        List<List<Integer>> rd = new ArrayList<>();
        for (int i = 0; i < count; i++) rd.add(new ArrayList<>());
        for (Graph.Node n : nodes) for (Graph.Value v : n.inputs()) if (v != null) rd.get(v.id()).add(n.index());
        readers = new int[count][];
        for (int i = 0; i < count; i++) readers[i] = rd.get(i).stream().mapToInt(Integer::intValue).toArray();
        double[] scale = new double[count];
        analyse(scale);
        // the grid: the coarsest map's cells; every spatial map is an integer number of pixels per cell
        double coarsest = Double.MAX_VALUE, finest = 0;
        for (int i = 0; i < count; i++) {
            if (spatial[i]) {
                coarsest = Math.min(coarsest, scale[i]);
                finest = Math.max(finest, scale[i]);
            }
        }
        if (coarsest == Double.MAX_VALUE) throw new IllegalArgumentException(network.name() + ": no image-like input to tile");
        int gh = 0, gw = 0;
        for (int i = 0; i < count; i++) {
            if (!spatial[i]) continue;
            double f = scale[i] / coarsest;
            factor[i] = (int) Math.round(f);
            if (Math.abs(f - factor[i]) > 1e-9) throw new IllegalArgumentException(network.name() + ": map " + values[i] + " is not a whole number of cells");
            int[] s = values[i].shape();
            // whole cells only: a map a few pixels larger than the others (the VAE's (0,1,0,1) pad before a strided
            // convolution) adds no cell; the last row and column of cores reach to each map's own end
            gh = Math.max(gh, Math.max(1, s[2] / factor[i]));
            gw = Math.max(gw, Math.max(1, s[3] / factor[i]));
        }
        int finestFactor = (int) Math.round(finest / coarsest);
        this.coreCells = Math.max(1, settings.corePixels() / finestFactor);
        this.grid = new TileGrid(gh, gw, coreCells);
        int syncs = 0;
        for (Kind k : kind) if (k == Kind.GROUP_NORM || k == Kind.POOL || k == Kind.ATTENTION) syncs++;
        this.syncCount = syncs;
    }

    /** Classifies every node, marks the spatial maps and their relative resolutions; refuses what cannot be tiled. */
    private void analyse(double[] scale) {
        boolean first = true;
        for (Graph.Value v : graph.inputs()) {
            if (v.rank() == 4 && v.dataType() == DataType.FLOAT32) {
                spatial[v.id()] = true;
                scale[v.id()] = 1.0;
                if (first) first = false;
                else {
                    // several image inputs must have one resolution: their sizes relative to the first
                    Graph.Value f0 = graph.inputs().stream().filter(x -> spatial[x.id()]).findFirst().orElseThrow();
                    scale[v.id()] = (double) v.dim(2) / f0.dim(2);
                }
            }
        }
        for (Graph.Node n : nodes) {
            int out = n.output().id();
            String op = n.op();
            // the attention block: nchwToTokens ×3 → attention → tokensToNchw, one whole-image operation
            Graph.Node fromBlock = null;
            for (Graph.Value v : n.inputs()) {
                if (v != null && v.producer() != null && kind[v.producer().index()] == Kind.ABSORBED) fromBlock = v.producer();
            }
            if (op.equals("attention") && fromBlock != null) {
                int[] maps = new int[3];
                for (int i = 0; i < 3; i++) {
                    Graph.Node p = n.input(i).producer();
                    if (p == null || kind[p.index()] != Kind.ABSORBED || !p.op().equals("nchwToTokens")) throw cannot(n, "tokens that are not all maps of this image");
                    maps[i] = p.input(0).id();
                }
                if (n.input(3) != null || n.boolAttr("causal")) throw cannot(n, "a masked attention");
                if (readers[out].length != 1 || !nodes.get(readers[out][0]).op().equals("tokensToNchw")) {
                    throw cannot(n, "a result that is not turned back into a map");
                }
                kind[n.index()] = Kind.ABSORBED;
                continue;
            }
            if (op.equals("tokensToNchw") && fromBlock != null && fromBlock.op().equals("attention")) {
                int[] maps = new int[3];
                for (int i = 0; i < 3; i++) maps[i] = fromBlock.input(i).producer().input(0).id();
                Graph.Value q = values[maps[0]];
                if (n.intAttr("height") != q.dim(2) || n.intAttr("width") != q.dim(3)) throw cannot(n, "a map of another size than its queries");
                kind[n.index()] = Kind.ATTENTION;
                spatial[out] = true;
                scale[out] = scale[maps[0]];
                attentionMaps.put(n.index(), maps);
                attentionNode.put(n.index(), fromBlock);
                continue;
            }
            if (fromBlock != null) throw cannot(n, "an operand from inside an attention block");
            Graph.Value x = firstSpatial(n);
            if (x == null) {
                kind[n.index()] = Kind.GLOBAL;
                continue;
            }
            Kind k = Kind.LOCAL;
            double s = scale[x.id()];
            switch (op) {
                case "conv2d", "conv2dWithInputBias" -> {
                    requireGlobalExcept(n, 0);
                    s = s / n.intAttr("stride");
                }
                case "upsampleNearest2x" -> s = 2 * s;
                case "pixelShuffle" -> s = n.intAttr("r") * s;
                case "groupNorm" -> {
                    requireGlobalExcept(n, 0);
                    k = Kind.GROUP_NORM;
                }
                case "globalAvgPool" -> k = Kind.POOL;
                case "pad2d" -> {
                    if (n.intAttr("top") != 0 || n.intAttr("left") != 0) throw cannot(n, "padding on the top or left");
                }
                case "crop2d" -> {
                    if (n.intAttr("top") != 0 || n.intAttr("left") != 0) throw cannot(n, "a crop that does not start at the top left");
                }
                case "concat" -> {
                    if (n.intAttr("dim") != 1) throw cannot(n, "concatenation along dimension " + n.intAttr("dim"));
                    for (Graph.Value p : n.inputs()) if (!spatial[p.id()]) throw cannot(n, "a part that is not a map");
                }
                case "slice" -> {
                    if (n.intAttr("dim") != 1) throw cannot(n, "a slice along dimension " + n.intAttr("dim"));
                }
                case "nchwToTokens" -> {
                    if (readers[out].length != 1 || !nodes.get(readers[out][0]).op().equals("attention")) {
                        throw cannot(n, "tokens that do not go straight into one attention");
                    }
                    k = Kind.ABSORBED;
                }
                case "addPerChannel", "mulPerChannel", "simpleGate", "mulScalar", "layerNormChannels" -> requireGlobalExcept(n, 0);
                case "addScaledPerChannel" -> {
                    if (n.input(2) != null && spatial[n.input(2).id()] || spatial[n.input(3).id()]) throw cannot(n, "a per-channel operand that is a map");
                }
                case "add", "mul", "scale", "clamp", "silu", "gelu", "quickGelu", "exp" -> { }
                default -> throw cannot(n, "no tiled form");
            }
            for (Graph.Value in : n.inputs()) {
                if (in != null && spatial[in.id()] && Math.abs(scale[in.id()] - scale[x.id()]) > 1e-12) {
                    throw cannot(n, "operands at different resolutions");
                }
            }
            kind[n.index()] = k;
            if (k != Kind.POOL && k != Kind.ABSORBED) {
                if (n.output().rank() != 4) throw cannot(n, "a result that is not a map");
                spatial[out] = true;
                scale[out] = s;
            }
        }
        for (Graph.Value o : graph.outputs().values()) {
            if (!spatial[o.id()] && o.producer() != null && kind[o.producer().index()] != Kind.GLOBAL && kind[o.producer().index()] != Kind.POOL) {
                throw new IllegalArgumentException(network.name() + ": output " + o + " is neither a map nor global");
            }
        }
    }

    private Graph.Value firstSpatial(Graph.Node n) {
        for (Graph.Value v : n.inputs()) if (v != null && spatial[v.id()]) return v;
        return null;
    }

    private void requireGlobalExcept(Graph.Node n, int mapInput) {
        for (int i = 0; i < n.inputs().size(); i++) {
            Graph.Value v = n.input(i);
            if (i != mapInput && v != null && spatial[v.id()]) throw cannot(n, "a weight-like operand that is a map");
        }
    }

    private IllegalArgumentException cannot(Graph.Node n, String why) {
        return new IllegalArgumentException(network.name() + " cannot be tiled: " + n + " has " + why);
    }

    @Override public Network network() { return network; }

    @Override public List<TensorSpec> outputs() { return graph.outputSpecs(); }

    @Override public String describe() {
        return ops.name() + " (tiled: " + grid.rows() + "×" + grid.cols() + " tiles, cores of " + coreCells + " cells = "
                + settings.corePixels() + " px, " + (syncCount + 1) + " sweeps)";
    }

    /** This network with other settings of the same tile size (a new budget or listener); the recorded graph is reused. */
    public TiledNetwork withSettings(Settings s) {
        if (s.corePixels() != settings.corePixels()) throw new IllegalArgumentException("another tile size needs another TiledNetwork");
        this.settings = s;
        return this;
    }

    /** The tile grid over the coarsest map. */
    public TileGrid grid() { return grid; }

    /** Sweeps per run: one per whole-image operation, plus the outputs. */
    public int sweeps() { return syncCount + 1; }

    /** What the last {@link #run} did; null before the first. */
    public RunStats lastStats() { return lastStats; }

    @Override public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        CompiledNetwork.checkInputs(network, inputs);
        try (Execution ex = new Execution(inputs)) {
            Map<String, Tensor> out = ex.run();
            lastStats = ex.stats();
            return out;
        }
    }

    @Override public void close() { }

    // ==== one run ================================================================================================

    /** A tile's piece of one map: the tensor, the window it covers and the part of it that is exact. */
    private record Piece(Tensor t, Rect cover, Rect valid) { }

    /** Receives the core of a target map for one tile. */
    private interface Sink {
        void accept(int tile, int value, Tensor core, Rect coreRect);
    }

    private final class Execution implements AutoCloseable {
        private final Tensor[] whole = new Tensor[values.length];        // spatial inputs (kept)
        private final Tensor[] global = new Tensor[values.length];       // non-spatial values on the backend
        private final List<Tensor> owned = new ArrayList<>();            // what this run kept and must close
        private final HostTiles[] stored = new HostTiles[values.length];
        private final Tensor[] gnScale = new Tensor[nodes.size()], gnShift = new Tensor[nodes.size()];
        private final boolean[] resolved = new boolean[nodes.size()];
        private long storedBytes, peakStored, evaluations;
        private int sweep;
        private int windows;
        private boolean windowed;

        Execution(Map<String, Tensor> inputs) {
            for (Graph.Value v : graph.inputs()) {
                Tensor k = ops.keep(inputs.get(v.name()));
                owned.add(k);
                if (spatial[v.id()]) whole[v.id()] = k;
                else global[v.id()] = k;
            }
        }

        RunStats stats() {
            int tileWise = 0;
            for (Kind k : kind) if (k == Kind.LOCAL || k == Kind.GROUP_NORM) tileWise++;
            return new RunStats(grid.size(), sweep, peakStored, evaluations, tileWise, windowed, windows);
        }

        Map<String, Tensor> run() {
            for (Graph.Node n : nodes) {
                Kind k = kind[n.index()];
                if (k == Kind.GROUP_NORM) resolveGroupNorm(n);
                else if (k == Kind.POOL) resolvePool(n);
                else if (k == Kind.ATTENTION) resolveAttention(n);
            }
            List<Integer> outs = new ArrayList<>();
            for (Graph.Value o : graph.outputs().values()) if (spatial[o.id()] && !available(o.id())) outs.add(o.id());
            sweep(List.of(), outs, null);
            Map<String, FloatTensor> host = new LinkedHashMap<>();
            for (Map.Entry<String, Graph.Value> e : graph.outputs().entrySet()) {
                int id = e.getValue().id();
                if (spatial[id] && stored[id] != null) host.put(e.getKey(), stored[id].whole());
            }
            ops.endStage();
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (Map.Entry<String, Graph.Value> e : graph.outputs().entrySet()) {
                Graph.Value o = e.getValue();
                if (!spatial[o.id()]) out.put(e.getKey(), global(o));
                else if (host.containsKey(e.getKey())) out.put(e.getKey(), ops.upload(host.get(e.getKey())));
                else out.put(e.getKey(), ops.crop2d(whole[o.id()], 0, 0, o.dim(2), o.dim(3)));
            }
            return out;
        }

        // ---- availability and what a sweep must evaluate ---------------------------------------------------------

        boolean available(int id) { return whole[id] != null || stored[id] != null; }

        /** The nodes to evaluate per tile so that every target is computed from available maps, in graph order. */
        List<Graph.Node> needed(List<Integer> targets, BitSet extraAvailable) {
            BitSet mark = new BitSet(nodes.size());
            ArrayList<Integer> stack = new ArrayList<>(targets);
            BitSet seen = new BitSet(values.length);
            while (!stack.isEmpty()) {
                int id = stack.remove(stack.size() - 1);
                if (seen.get(id)) continue;
                seen.set(id);
                if (!spatial[id] || available(id) || (extraAvailable != null && extraAvailable.get(id))) continue;
                Graph.Node p = values[id].producer();
                if (p == null) throw new IllegalStateException(network.name() + ": map " + values[id] + " has no source");
                Kind k = kind[p.index()];
                if (k == Kind.GROUP_NORM && !resolved[p.index()] || k == Kind.ATTENTION) {
                    throw new IllegalStateException(network.name() + ": " + p + " is needed before its whole-image statistics exist");
                }
                mark.set(p.index());
                for (Graph.Value in : p.inputs()) if (in != null && spatial[in.id()]) stack.add(in.id());
            }
            List<Graph.Node> l = new ArrayList<>();
            for (int i = mark.nextSetBit(0); i >= 0; i = mark.nextSetBit(i + 1)) l.add(nodes.get(i));
            return l;
        }

        /** Rough work of recomputing map {@code id} from what is (or would be) available: multiply-adds. */
        double recomputeCost(int id, BitSet extraAvailable) {
            double cost = 0;
            for (Graph.Node n : needed(List.of(id), extraAvailable)) cost += work(n);
            return cost;
        }

        /** Is map {@code id} read after sync node {@code s} (index), counting {@code s} itself when it is a GroupNorm? */
        boolean liveAfter(int id, Graph.Node s) {
            for (int r : readers[id]) {
                if (r > s.index() || (r == s.index() && kind[r] == Kind.GROUP_NORM)) return true;
            }
            return graph.outputs().containsValue(values[id]);
        }

        /**
         * Which maps to keep from the sweep before sync node {@code s}: {@code forced} ones, then greedily the one with
         * the most recompute work per byte that still fits the budget, among those computed in the sweep and read later.
         */
        List<Integer> chooseStores(Graph.Node s, List<Integer> targets, List<Integer> forced) {
            List<Integer> chosen = new ArrayList<>();
            BitSet assume = new BitSet(values.length);
            long left = settings.storeBudgetBytes() - storedBytes;
            for (int f : forced) {
                if (available(f) || chosen.contains(f)) continue;
                chosen.add(f);
                assume.set(f);
                left -= bytes(f);
            }
            List<Integer> candidates = new ArrayList<>();
            for (Graph.Node n : needed(targets, null)) {
                int id = n.output().id();
                if (spatial[id] && liveAfter(id, s) && !chosen.contains(id)) candidates.add(id);
            }
            while (true) {
                int best = -1;
                double bestScore = -1;
                for (int c : candidates) {
                    if (assume.get(c)) continue;
                    long b = bytes(c);
                    if (b > left) continue;
                    double score = recomputeCost(c, assume) / Math.max(1, b);
                    if (score > bestScore) {
                        bestScore = score;
                        best = c;
                    }
                }
                if (best < 0) break;
                chosen.add(best);
                assume.set(best);
                left -= bytes(best);
            }
            return chosen;
        }

        long bytes(int id) {
            int[] s = values[id].shape();
            return HostTiles.bytesOf(s[0], s[1], s[2], s[3]);
        }

        /** Frees kept maps that no later sweep can need, after sync node {@code s} was resolved. */
        void release(Graph.Node s) {
            BitSet keep = new BitSet(values.length);
            ArrayList<Integer> stack = new ArrayList<>();
            for (Graph.Node n : nodes) {
                if (n.index() < s.index() || (n.index() == s.index() && kind[n.index()] != Kind.GROUP_NORM)) continue;
                for (Graph.Value v : n.inputs()) if (v != null && spatial[v.id()]) stack.add(v.id());
            }
            for (Graph.Value o : graph.outputs().values()) if (spatial[o.id()]) stack.add(o.id());
            BitSet seen = new BitSet(values.length);
            while (!stack.isEmpty()) {
                int id = stack.remove(stack.size() - 1);
                if (seen.get(id)) continue;
                seen.set(id);
                if (available(id)) {
                    keep.set(id);
                    continue;
                }
                Graph.Node p = values[id].producer();
                if (p == null || p.index() > s.index()) continue;    // computed later; its own inputs are visited above
                for (Graph.Value in : p.inputs()) if (in != null && spatial[in.id()]) stack.add(in.id());
            }
            for (int id = 0; id < stored.length; id++) {
                if (stored[id] != null && !keep.get(id)) {
                    storedBytes -= stored[id].bytes();
                    stored[id].close();
                    stored[id] = null;
                }
            }
        }

        // ---- the whole-image operations --------------------------------------------------------------------------

        void resolveGroupNorm(Graph.Node n) {
            int x = n.input(0).id();
            int[] s = values[x].shape();
            int b = s[0], c = s[1], groups = n.intAttr("groups");
            double[] s1 = new double[b * c], s2 = new double[b * c];
            float[][] shift = new float[1][];
            Tensor[] negShift = new Tensor[1];
            long[] count = new long[1];
            List<Integer> targets = List.of(x);
            List<Integer> stores = chooseStores(n, targets, List.of());
            Sink stats = (tile, value, core, rect) -> {
                if (value != x) return;
                if (shift[0] == null) {
                    shift[0] = ops.download(ops.globalAvgPool(core)).data().clone();
                    float[] neg = new float[shift[0].length];
                    for (int i = 0; i < neg.length; i++) neg[i] = -shift[0][i];
                    negShift[0] = keepOwned(ops.upload(new FloatTensor(neg, b, c)));
                }
                Tensor d = ops.addPerChannel(core, negShift[0]);
                float[] m1 = ops.download(ops.globalAvgPool(d)).data();
                float[] m2 = ops.download(ops.globalAvgPool(ops.mul(d, d))).data();
                long area = rect.area();
                for (int i = 0; i < b * c; i++) {
                    s1[i] += area * (double) m1[i];
                    s2[i] += area * (double) m2[i];
                }
                count[0] += area;
            };
            sweep(targets, stores, stats);
            long total = (long) s[2] * s[3];
            if (count[0] != total) throw new IllegalStateException(n + ": tiles covered " + count[0] + " of " + total + " pixels");
            float[] gamma = ops.download(global(n.input(1))).data(), beta = ops.download(global(n.input(2))).data();
            float eps = n.floatAttr("eps");
            int perGroup = c / groups;
            float[] scale = new float[b * c], offset = new float[b * c];
            for (int bi = 0; bi < b; bi++) {
                for (int g = 0; g < groups; g++) {
                    double mean = 0;
                    for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++) mean += total * (double) shift[0][bi * c + ch] + s1[bi * c + ch];
                    mean /= (double) total * perGroup;
                    double var = 0;
                    for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++) {
                        int i = bi * c + ch;
                        double dk = shift[0][i] - mean;                   // x − mean = (x − k) + (k − mean)
                        var += s2[i] + 2 * dk * s1[i] + total * dk * dk;
                    }
                    var = Math.max(0, var / ((double) total * perGroup));
                    double rstd = 1 / Math.sqrt(var + eps);
                    for (int ch = g * perGroup; ch < (g + 1) * perGroup; ch++) {
                        scale[bi * c + ch] = (float) (gamma[ch] * rstd);
                        offset[bi * c + ch] = (float) (beta[ch] - mean * gamma[ch] * rstd);
                    }
                }
            }
            ops.endStage();
            gnScale[n.index()] = keepOwned(ops.upload(new FloatTensor(scale, b, c)));
            gnShift[n.index()] = keepOwned(ops.upload(new FloatTensor(offset, b, c)));
            resolved[n.index()] = true;
            release(n);
        }

        void resolvePool(Graph.Node n) {
            int x = n.input(0).id();
            int[] s = values[x].shape();
            double[] sum = new double[s[0] * s[1]];
            List<Integer> targets = List.of(x);
            List<Integer> stores = chooseStores(n, targets, List.of());
            Sink pool = (tile, value, core, rect) -> {
                if (value != x) return;
                float[] m = ops.download(ops.globalAvgPool(core)).data();
                for (int i = 0; i < sum.length; i++) sum[i] += rect.area() * (double) m[i];
            };
            sweep(targets, stores, pool);
            float[] mean = new float[sum.length];
            double total = (double) s[2] * s[3];
            for (int i = 0; i < mean.length; i++) mean[i] = (float) (sum[i] / total);
            ops.endStage();
            global[n.output().id()] = keepOwned(ops.upload(new FloatTensor(mean, s[0], s[1], 1, 1)));
            resolved[n.index()] = true;
            release(n);
        }

        void resolveAttention(Graph.Node back) {
            int[] maps = attentionMaps.get(back.index());
            Graph.Node att = attentionNode.get(back.index());
            List<Integer> targets = new ArrayList<>();
            for (int m : maps) if (!available(m) && !targets.contains(m)) targets.add(m);
            List<Integer> stores = chooseStores(back, targets, targets);
            sweep(List.of(), stores, null);
            Graph.Value q = values[maps[0]];
            int b = q.dim(0), c = q.dim(1), h = q.dim(2), w = q.dim(3);
            int vc = values[maps[2]].dim(1);
            int heads = att.intAttr("heads");
            float scale = att.floatAttr("scale");
            int out = back.output().id();
            HostTiles result = new HostTiles(b, vc, h, w, grid, factor[out]);
            if ((long) h * w <= settings.globalAttentionTokens()) {
                windows = 1;
                windowed = false;
                Tensor o = attend(maps, Rect.of(h, w), heads, scale);
                FloatTensor all = ops.download(o);
                for (int t = 0; t < grid.size(); t++) {
                    Rect core = result.core(t);
                    if (!core.isEmpty()) result.put(t, crop(all, core));
                }
            } else {
                windowed = true;
                // windows: the tile cores grown by a quarter core on each side; outputs blended with Gaussian weights
                int f = factor[maps[0]];
                int overlap = Math.max(1, coreCells * f / 4);
                long n = (long) b * vc * h * w;
                if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(network.name() + ": the attention map of " + n + " values is too large to blend");
                float[] acc = new float[(int) n];
                double[] weightSum = new double[h * w];
                windows = grid.size();
                for (int t = 0; t < grid.size(); t++) {
                    Rect win = coreOf(grid, t, f, h, w).grow(overlap, h, w);
                    FloatTensor o = ops.download(attend(maps, win, heads, scale));
                    double sy = 0.3 * win.height(), sx = 0.3 * win.width();
                    double cy = win.y0() + (win.height() - 1) / 2.0, cx = win.x0() + (win.width() - 1) / 2.0;
                    float[] od = o.data();
                    int wh = win.height(), ww = win.width();
                    for (int y = 0; y < wh; y++) {
                        double gy = (win.y0() + y - cy) / sy;
                        for (int xx = 0; xx < ww; xx++) {
                            double gx = (win.x0() + xx - cx) / sx;
                            double g = Math.exp(-0.5 * (gy * gy + gx * gx));
                            int p = (win.y0() + y) * w + win.x0() + xx;
                            weightSum[p] += g;
                            for (int ch = 0; ch < b * vc; ch++) acc[ch * h * w + p] += (float) (g * od[(ch * wh + y) * ww + xx]);
                        }
                    }
                    ops.endStage();
                    if (settings.listener() != null) settings.listener().onTile(network.name(), sweep - 1, sweeps(), t, grid.size());
                }
                for (int ch = 0; ch < b * vc; ch++) {
                    for (int p = 0; p < h * w; p++) acc[ch * h * w + p] = (float) (acc[ch * h * w + p] / weightSum[p]);
                }
                FloatTensor all = new FloatTensor(acc, b, vc, h, w);
                for (int t = 0; t < grid.size(); t++) {
                    Rect core = result.core(t);
                    if (!core.isEmpty()) result.put(t, crop(all, core));
                }
            }
            ops.endStage();
            stored[out] = result;
            storedBytes += result.bytes();
            peakStored = Math.max(peakStored, storedBytes);
            resolved[back.index()] = true;
            release(back);
        }

        /** The recorded attention block over window {@code win} of the stored q, k, v maps → [B, C, h, w]. */
        Tensor attend(int[] maps, Rect win, int heads, float scale) {
            Tensor[] tok = new Tensor[3];
            for (int i = 0; i < 3; i++) tok[i] = ops.nchwToTokens(window(maps[i], win));
            Tensor o = ops.attention(tok[0], tok[1], tok[2], heads, scale, dev.autodir.backend.AttentionMask.NONE);
            return ops.tokensToNchw(o, win.height(), win.width());
        }

        // ---- sweeps ------------------------------------------------------------------------------------------------

        /** Window {@code r} of an available map as a backend tensor. */
        Tensor window(int id, Rect r) {
            if (whole[id] != null) {
                int[] s = values[id].shape();
                return r.equals(Rect.of(s[2], s[3])) ? whole[id] : ops.crop2d(whole[id], r.y0(), r.x0(), r.height(), r.width());
            }
            if (stored[id] != null) return ops.upload(stored[id].gather(r));
            throw new IllegalStateException(network.name() + ": " + values[id] + " is neither kept nor computed in this sweep");
        }

        /**
         * One sweep: per tile, the cores of {@code targets} and {@code stores} computed from the available maps; each
         * target core goes to {@code sink}, each store core into native memory. The stored maps become available when
         * the sweep ends.
         */
        void sweep(List<Integer> targets, List<Integer> stores, Sink sink) {
            List<Integer> all = new ArrayList<>(targets);
            for (int id : stores) if (!all.contains(id)) all.add(id);
            List<Graph.Node> todo = needed(all, null);
            Map<Integer, HostTiles> filling = new LinkedHashMap<>();
            for (int id : stores) {
                int[] s = values[id].shape();
                filling.put(id, new HostTiles(s[0], s[1], s[2], s[3], grid, factor[id]));
            }
            int sw = sweep++;
            try {
                for (int t = 0; t < grid.size(); t++) {
                    if (settings.listener() != null) settings.listener().onTile(network.name(), sw, sweeps(), t, grid.size());
                    runTile(t, all, todo, (tile, value, core, rect) -> {
                        if (sink != null && targets.contains(value)) sink.accept(tile, value, core, rect);
                        HostTiles h = filling.get(value);
                        if (h != null) {
                            long before = h.bytes();
                            h.put(tile, ops.download(core));
                            storedBytes += h.bytes() - before;
                            peakStored = Math.max(peakStored, storedBytes);
                        }
                    });
                    ops.endStage();
                }
            } catch (RuntimeException e) {
                for (HostTiles h : filling.values()) h.close();
                throw e;
            }
            for (Map.Entry<Integer, HostTiles> e : filling.entrySet()) stored[e.getKey()] = e.getValue();
        }

        void runTile(int t, List<Integer> targets, List<Graph.Node> todo, Sink sink) {
            // wanted windows, backwards from the targets' cores
            Map<Integer, Rect> want = new HashMap<>();
            for (int id : targets) {
                Rect core = core(id, t);
                if (!core.isEmpty()) want.merge(id, core, Rect::union);
            }
            for (int i = todo.size() - 1; i >= 0; i--) {
                Graph.Node n = todo.get(i);
                Rect r = want.get(n.output().id());
                if (r == null) continue;
                for (int k = 0; k < n.inputs().size(); k++) {
                    Graph.Value in = n.input(k);
                    if (in == null || !spatial[in.id()]) continue;
                    Rect need = inputWindow(n, r, in);
                    if (!need.isEmpty()) want.merge(in.id(), need, Rect::union);
                }
            }
            Map<Integer, Piece> pieces = new HashMap<>();
            for (Graph.Node n : todo) {
                Rect r = want.get(n.output().id());
                if (r == null) continue;
                Piece[] in = new Piece[n.inputs().size()];
                for (int k = 0; k < in.length; k++) {
                    Graph.Value v = n.input(k);
                    if (v != null && spatial[v.id()]) in[k] = piece(v.id(), want, pieces);
                }
                pieces.put(n.output().id(), forward(n, in));
                evaluations++;
            }
            for (int id : targets) {
                Rect core = core(id, t);
                if (core.isEmpty()) continue;
                Piece p = piece(id, want, pieces);
                if (!p.valid().contains(core)) {
                    throw new IllegalStateException(network.name() + ": tile " + t + " of " + values[id] + ": exact window " + p.valid()
                            + " does not cover the core " + core + " (a tiling rule is wrong)");
                }
                sink.accept(t, id, cropTo(p, core), core);
            }
        }

        Piece piece(int id, Map<Integer, Rect> want, Map<Integer, Piece> pieces) {
            Piece p = pieces.get(id);
            if (p != null) return p;
            Rect r = want.get(id);
            if (r == null) throw new IllegalStateException(network.name() + ": no window for " + values[id]);
            p = new Piece(window(id, r), r, r);
            pieces.put(id, p);
            return p;
        }

        /** The core of map {@code id} for tile {@code t}, in the map's pixels. */
        Rect core(int id, int t) {
            int[] s = values[id].shape();
            return coreOf(grid, t, factor[id], s[2], s[3]);
        }

        // ---- the tiled form of each operation ----------------------------------------------------------------------

        /** The window of input {@code in} node {@code n} needs to compute window {@code r} of its output. */
        Rect inputWindow(Graph.Node n, Rect r, Graph.Value in) {
            int[] s = in.shape();
            int h = s[2], w = s[3];
            switch (n.op()) {
                case "conv2d", "conv2dWithInputBias" -> {
                    if (in != n.input(0)) return new Rect(0, 0, 0, 0);
                    int[] ws = n.input(n.op().equals("conv2d") ? 1 : 2).shape();
                    int st = n.intAttr("stride"), pad = n.intAttr("padding");
                    int y0 = Math.max(0, st * r.y0() - pad), y1 = Math.min(h, st * (r.y1() - 1) - pad + ws[2]);
                    int x0 = Math.max(0, st * r.x0() - pad), x1 = Math.min(w, st * (r.x1() - 1) - pad + ws[3]);
                    return new Rect(y0 / st * st, y1, x0 / st * st, x1);
                }
                case "upsampleNearest2x", "pixelShuffle" -> {
                    int f = n.op().equals("pixelShuffle") ? n.intAttr("r") : 2;
                    return new Rect(Math.floorDiv(r.y0(), f), ceilDiv(r.y1(), f), Math.floorDiv(r.x0(), f), ceilDiv(r.x1(), f)).clip(h, w);
                }
                default -> {
                    return r.clip(h, w);
                }
            }
        }

        Piece forward(Graph.Node n, Piece[] in) {
            String op = n.op();
            Kind k = kind[n.index()];
            if (k == Kind.GROUP_NORM) {
                Piece x = in[0];
                Tensor y = ops.addPerChannel(ops.mulPerChannel(x.t(), gnScale[n.index()]), gnShift[n.index()]);
                if (n.boolAttr("silu")) y = ops.silu(y);
                return new Piece(y, x.cover(), x.valid());
            }
            switch (op) {
                case "conv2d", "conv2dWithInputBias" -> {
                    int st = n.intAttr("stride"), pad = n.intAttr("padding");
                    int[] ws = n.input(op.equals("conv2d") ? 1 : 2).shape();
                    Piece x = alignTo(in[0], st);
                    int[] hs = values[n.input(0).id()].shape(), os = n.output().shape();
                    int[] rows = convWindow(x.cover().y0(), x.cover().y1(), x.valid().y0(), x.valid().y1(), hs[2], ws[2], st, pad);
                    int[] cols = convWindow(x.cover().x0(), x.cover().x1(), x.valid().x0(), x.valid().x1(), hs[3], ws[3], st, pad);
                    Tensor y = GraphInterpreter.apply(ops, n, args(n, in, x.t()));
                    Rect cover = new Rect(rows[0], rows[1], cols[0], cols[1]);
                    if (cover.y1() > os[2] || cover.x1() > os[3]) throw new IllegalStateException(n + ": tile output " + cover + " beyond the map");
                    return new Piece(y, cover, new Rect(rows[2], rows[3], cols[2], cols[3]));
                }
                case "upsampleNearest2x", "pixelShuffle" -> {
                    int f = op.equals("pixelShuffle") ? n.intAttr("r") : 2;
                    Piece x = in[0];
                    return new Piece(GraphInterpreter.apply(ops, n, args(n, in, x.t())), x.cover().scale(f), x.valid().scale(f));
                }
                case "pad2d" -> {
                    Piece x = in[0];
                    int[] s = values[n.input(0).id()].shape();
                    int bottom = x.cover().y1() == s[2] ? n.intAttr("bottom") : 0, right = x.cover().x1() == s[3] ? n.intAttr("right") : 0;
                    Tensor y = bottom == 0 && right == 0 ? x.t() : ops.pad2d(x.t(), 0, bottom, 0, right);
                    Rect c = x.cover(), v = x.valid();
                    return new Piece(y, new Rect(c.y0(), c.y1() + bottom, c.x0(), c.x1() + right),
                            new Rect(v.y0(), v.y1() == s[2] ? v.y1() + bottom : v.y1(), v.x0(), v.x1() == s[3] ? v.x1() + right : v.x1()));
                }
                case "crop2d" -> {
                    Piece x = in[0];
                    Rect box = Rect.of(n.intAttr("height"), n.intAttr("width"));
                    Rect c = x.cover().intersect(box);
                    return new Piece(cropTo(x, c), c, x.valid().intersect(box));
                }
                default -> {
                    // tile-local: the map operands cut to their common window
                    Rect common = null;
                    for (Piece p : in) if (p != null) common = common == null ? p.cover() : common.intersect(p.cover());
                    Rect valid = common;
                    Tensor[] a = new Tensor[in.length];
                    for (int i = 0; i < in.length; i++) {
                        Graph.Value v = n.input(i);
                        if (v == null) continue;
                        if (in[i] != null) {
                            a[i] = cropTo(in[i], common);
                            valid = valid.intersect(in[i].valid());
                        } else {
                            a[i] = global(v);
                        }
                    }
                    return new Piece(GraphInterpreter.apply(ops, n, a), common, valid);
                }
            }
        }

        /** The node's arguments with {@code x} for input 0 and the global tensors for the others. */
        Tensor[] args(Graph.Node n, Piece[] in, Tensor x) {
            Tensor[] a = new Tensor[in.length];
            a[0] = x;
            for (int i = 1; i < in.length; i++) {
                Graph.Value v = n.input(i);
                if (v != null) a[i] = global(v);
            }
            return a;
        }

        /** {@code p} starting at a multiple of {@code stride} (a strided convolution's tiles must align with the map's). */
        Piece alignTo(Piece p, int stride) {
            if (stride == 1) return p;
            Rect c = p.cover();
            Rect a = new Rect(ceilDiv(c.y0(), stride) * stride, c.y1(), ceilDiv(c.x0(), stride) * stride, c.x1());
            if (a.equals(c)) return p;
            return new Piece(cropTo(p, a), a, p.valid().intersect(a));
        }

        Tensor cropTo(Piece p, Rect r) {
            Rect c = p.cover();
            if (r.equals(c)) return p.t();
            if (!c.contains(r)) throw new IllegalStateException(network.name() + ": window " + r + " is outside the piece " + c);
            return ops.crop2d(p.t(), r.y0() - c.y0(), r.x0() - c.x0(), r.height(), r.width());
        }

        // ---- global values -----------------------------------------------------------------------------------------

        Tensor global(Graph.Value v) {
            Tensor t = global[v.id()];
            if (t != null) return t;
            switch (v.kind()) {
                case WEIGHT -> t = ops.weight(graph.store(), v.name());
                case CONSTANT -> {
                    Tensor data = v.constantData();
                    t = keepOwned(data instanceof IntTensor it ? ops.upload(it) : ops.uploadFloat32((FloatTensor) data));
                }
                case NODE -> {
                    Graph.Node p = v.producer();
                    if (kind[p.index()] != Kind.GLOBAL) throw new IllegalStateException(network.name() + ": " + v + " is not available yet");
                    Tensor[] a = new Tensor[p.inputs().size()];
                    for (int i = 0; i < a.length; i++) if (p.input(i) != null) a[i] = global(p.input(i));
                    t = keepOwned(GraphInterpreter.apply(ops, p, a));
                }
                default -> throw new IllegalStateException(network.name() + ": input " + v + " missing");
            }
            global[v.id()] = t;
            return t;
        }

        Tensor keepOwned(Tensor t) {
            Tensor k = ops.keep(t);
            owned.add(k);
            return k;
        }

        @Override public void close() {
            for (HostTiles h : stored) if (h != null) h.close();
            for (Tensor t : owned) t.close();
        }
    }

    /**
     * One dimension of a convolution over a tile: the input covers [c0, c1) with [v0, v1) exact, c0 a multiple of the
     * stride; the output covers [o0, o1) and is exact on [e0, e1). Rows outside the tile read as zeros, which is exact
     * only where the tile touches the map's border (v0 = 0, or v1 = the input's size).
     */
    static int[] convWindow(int c0, int c1, int v0, int v1, int size, int k, int stride, int pad) {
        int o0 = c0 / stride;
        int span = c1 - c0 + 2 * pad - k;
        int o1 = span < 0 ? o0 : o0 + span / stride + 1;
        if (v1 <= v0) return new int[] {o0, o1, o0, o0};
        int e0 = v0 == 0 ? o0 : ceilDiv(v0 + pad, stride);
        int e1 = v1 == size ? o1 : Math.floorDiv(v1 + pad - k, stride) + 1;
        e0 = Math.max(e0, o0);
        e1 = Math.min(e1, o1);
        if (e1 < e0) e1 = e0;
        return new int[] {o0, o1, e0, e1};
    }

    static int ceilDiv(int a, int b) { return -Math.floorDiv(-a, b); }

    /**
     * Tile {@code t}'s core in a map of {@code height}×{@code width} at {@code factor} pixels per cell: the cell core
     * scaled, clipped to the map, and in the last row (column) of tiles reaching to the map's end, so the cores of
     * every map cover it once.
     */
    static Rect coreOf(TileGrid grid, int t, int factor, int height, int width) {
        Rect c = grid.core(t).scale(factor);
        int y1 = t / grid.cols() == grid.rows() - 1 ? height : Math.min(c.y1(), height);
        int x1 = t % grid.cols() == grid.cols() - 1 ? width : Math.min(c.x1(), width);
        return new Rect(Math.min(c.y0(), height), y1, Math.min(c.x0(), width), x1);
    }

    /** Multiply-adds of a node, roughly: a convolution's products, the element count otherwise. */
    static double work(Graph.Node n) {
        int[] o = n.output().shape();
        double out = 1;
        for (int d : o) out *= d;
        if (n.op().equals("conv2d") || n.op().equals("conv2dWithInputBias")) {
            int[] w = n.input(n.op().equals("conv2d") ? 1 : 2).shape();
            return out * w[1] * w[2] * w[3];
        }
        return out;
    }

    /** The window {@code r} of a host map [B, C, H, W]. */
    static FloatTensor crop(FloatTensor x, Rect r) {
        int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
        FloatTensor out = FloatTensor.zeros(x.dim(0), x.dim(1), r.height(), r.width());
        for (int p = 0; p < planes; p++) {
            for (int y = 0; y < r.height(); y++) {
                System.arraycopy(x.data(), (p * h + r.y0() + y) * w + r.x0(), out.data(), (p * r.height() + y) * r.width(), r.width());
            }
        }
        return out;
    }

    @Override public String toString() {
        return String.format(Locale.ROOT, "tiled %s: %s", network.name(), grid);
    }
}
