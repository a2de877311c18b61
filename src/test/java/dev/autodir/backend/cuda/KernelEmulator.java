package dev.autodir.backend.cuda;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a kernel of {@code cuda/} on the host through {@code src/test/cpp/kernel_emulation.h}: the kernel's own
 * source, compiled by g++ with a driver generated from its {@link Kernel} signature, launched with the grid,
 * block, dynamic shared memory and arguments a test gives, on buffers that come back after the launch. For tests
 * of kernel logic on machines without a GPU (see the header for what it cannot check).
 *
 * <p>Compiling is most of the cost, so it is done once per source version and shared: the header is precompiled
 * ({@code .gch}), the generic driver (spec parsing, buffers, the launch) is one object file, and each {@code .cu} file
 * becomes one binary holding every kernel of that file (a small generated table maps a function name to a thunk that
 * unpacks its arguments). Everything is cached under {@code target/kernel-emulation}, keyed by the sources' hash;
 * {@link #prepare} compiles the files a test class needs two at a time.
 */
final class KernelEmulator {
    private static final Path CUDA = Path.of("cuda");
    private static final Path SHIM = Path.of("src/test/cpp/kernel_emulation.h");
    private static final Path CACHE = Path.of("target/kernel-emulation");
    private static final Pattern EXTERN_SHARED = Pattern.compile(
            "extern\\s+__shared__\\s+(?:__align__\\s*\\(\\s*\\d+\\s*\\)\\s*)?(\\w+)\\s+(?:__align__\\s*\\(\\s*\\d+\\s*\\)\\s*)?(\\w+)\\s*\\[\\s*\\]\\s*;");
    private static String unavailable;
    private static boolean probed;

    private KernelEmulator() { }

    /** Why kernels cannot be emulated here (no g++ with C++20 and _Float16), or null. */
    static synchronized String unavailableReason() {
        if (!probed) {
            probed = true;
            try {
                Path dir = Files.createDirectories(CACHE);
                Path src = dir.resolve("probe.cpp");
                Files.writeString(src, "#include <atomic>\nint main() { _Float16 h = (_Float16)1.5f; float f = 0; std::atomic_ref<float>(f).fetch_add(1.f); return (float)h == 1.5f && f == 1.f ? 0 : 1; }\n");
                String out = exec(List.of("g++", "-std=c++20", "-pthread", src.toString(), "-o", dir.resolve("probe").toString()), 120);
                if (out != null) unavailable = "g++ with C++20 (std::atomic_ref) and _Float16 is needed: " + out;
            } catch (IOException e) {
                unavailable = "cannot prepare " + CACHE + ": " + e.getMessage();
            }
        }
        return unavailable;
    }

    /** Host memory standing in for a device buffer. */
    static final class Buf {
        final byte[] bytes;

        Buf(byte[] bytes) { this.bytes = bytes; }

        static Buf zeros(long nbytes) { return new Buf(new byte[Math.toIntExact(nbytes)]); }

        static Buf floats(float[] v) {
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) b.putFloat(f);
            return new Buf(b.array());
        }

        /** FP16 storage of v (each rounded to nearest even). */
        static Buf halves(float[] v) {
            ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) b.putShort(toHalfBits(f));
            return new Buf(b.array());
        }

        static Buf of(float[] v, boolean half) { return half ? halves(v) : floats(v); }

        float[] asFloats() {
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            float[] v = new float[bytes.length / 4];
            for (int i = 0; i < v.length; i++) v[i] = b.getFloat();
            return v;
        }

        float[] asHalves() {
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            float[] v = new float[bytes.length / 2];
            for (int i = 0; i < v.length; i++) v[i] = fromHalfBits(b.getShort());
            return v;
        }

        float[] as(boolean half) { return half ? asHalves() : asFloats(); }

        /** A pointer argument {@code offset} bytes into this buffer. */
        At at(long offset) { return new At(this, offset); }
    }

    record At(Buf buf, long offset) { }

    static short toHalfBits(float f) {
        int sign = Float.floatToRawIntBits(f) >>> 31 << 15;
        if (Float.isNaN(f)) return (short) 0x7e00;
        float r = Math.abs(CudaTestSupport.roundToHalf(f));
        if (Float.isInfinite(r)) return (short) (sign | 0x7c00);
        if (r == 0f) return (short) sign;
        if (r < 0x1p-14f) return (short) (sign | (int) (r / 0x1p-24f));
        int e = Math.getExponent(r);
        int mant = (int) ((r / Math.scalb(1f, e) - 1f) * 1024f);
        return (short) (sign | (e + 15) << 10 | mant);
    }

    static float fromHalfBits(short h) {
        int bits = h & 0xffff, sign = bits >>> 15, exp = bits >>> 10 & 31, mant = bits & 1023;
        float v;
        if (exp == 31) v = mant == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        else if (exp == 0) v = mant * 0x1p-24f;
        else v = Math.scalb(1f + mant / 1024f, exp - 15);
        return sign == 1 ? -v : v;
    }

    /**
     * Launches {@code k} with grid (gx, gy, gz), block (bx, by, bz) and {@code sharedBytes} of dynamic shared memory;
     * {@code args} in signature order: a {@link Buf} or {@link At} for 'p' (null for a null pointer), Integer for
     * 'i', Long for 'l', Float for 'f'. Buffers are updated in place with what the kernel wrote.
     */
    static void launch(Kernel k, long gx, long gy, long gz, int bx, int by, int bz, int sharedBytes, Object... args) {
        String sig = k.signature();
        if (args.length != sig.length()) {
            throw new IllegalArgumentException(k.function() + ": " + args.length + " arguments for signature " + sig);
        }
        try {
            Path binary = binary(k);
            Path run = Files.createTempDirectory(Files.createDirectories(CACHE), "run");
            Map<Buf, Integer> index = new IdentityHashMap<>();
            List<Buf> bufs = new ArrayList<>();
            StringBuilder spec = new StringBuilder();
            spec.append("fn ").append(k.function()).append('\n');
            spec.append("grid ").append(gx).append(' ').append(gy).append(' ').append(gz).append('\n');
            spec.append("block ").append(bx).append(' ').append(by).append(' ').append(bz).append('\n');
            spec.append("smem ").append(sharedBytes).append('\n');
            StringBuilder argLines = new StringBuilder();
            for (int i = 0; i < args.length; i++) {
                char kind = sig.charAt(i);
                Object a = args[i];
                switch (kind) {
                    case 'p' -> {
                        if (a == null) {
                            argLines.append("null\n");
                            break;
                        }
                        At at = a instanceof Buf b ? new At(b, 0) : a instanceof At t ? t : null;
                        if (at == null) throw new IllegalArgumentException(k.function() + ": argument " + i + " must be a buffer");
                        Integer id = index.get(at.buf());
                        if (id == null) {
                            id = bufs.size();
                            index.put(at.buf(), id);
                            bufs.add(at.buf());
                        }
                        argLines.append("ptr ").append(id).append(' ').append(at.offset()).append('\n');
                    }
                    case 'i' -> argLines.append("int ").append(((Integer) a).intValue()).append('\n');
                    case 'l' -> argLines.append("long ").append(((Number) a).longValue()).append('\n');
                    case 'f' -> argLines.append("float ").append(Float.floatToRawIntBits((Float) a)).append('\n');
                    default -> throw new IllegalStateException("signature letter " + kind);
                }
            }
            for (int i = 0; i < bufs.size(); i++) {
                Path f = run.resolve("buf" + i);
                Files.write(f, bufs.get(i).bytes);
                spec.append("buf ").append(bufs.get(i).bytes.length).append(' ').append(f.toAbsolutePath()).append('\n');
            }
            spec.append(argLines);
            Path specFile = run.resolve("spec");
            Files.writeString(specFile, spec.toString());
            String err = exec(List.of(binary.toAbsolutePath().toString(), specFile.toAbsolutePath().toString()), 600);
            if (err != null) throw new AssertionError(k.function() + " under emulation: " + err);
            for (int i = 0; i < bufs.size(); i++) {
                byte[] back = Files.readAllBytes(run.resolve("buf" + i + ".out"));
                System.arraycopy(back, 0, bufs.get(i).bytes, 0, back.length);
            }
            try (var files = Files.list(run)) {
                for (Path p : files.toList()) Files.delete(p);
            }
            Files.delete(run);
        } catch (IOException e) {
            throw new AssertionError("emulating " + k.function() + ": " + e.getMessage(), e);
        }
    }

    private static final List<String> FLAGS = List.of("-std=c++20", "-O1", "-ffp-contract=off", "-pthread", "-w");
    private static Path pchHeader, driverObject;

    /**
     * Compiles the emulation binaries of the files of {@code kernels} that are not compiled yet, two g++ at a time (the
     * build machine has two cores); a file that fails to compile fails later, at its launch, with the compiler's output.
     */
    static void prepare(Kernel... kernels) {
        java.util.Set<String> files = new java.util.LinkedHashSet<>();
        for (Kernel k : kernels) files.add(k.file());
        var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            List<java.util.concurrent.Future<?>> jobs = new ArrayList<>();
            for (String f : files) jobs.add(pool.submit(() -> { try { fileBinary(f); } catch (IOException | AssertionError ignored) { } }));
            for (var j : jobs) j.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException ignored) {
            // reported by the launch that needs the binary
        } finally {
            pool.shutdown();
        }
    }

    /** The emulation binary holding k's function. */
    private static Path binary(Kernel k) throws IOException {
        return fileBinary(k.file());
    }

    private static String commonFailure;

    /** The precompiled header and the driver object, built once per version of the header (a failure is kept). */
    private static synchronized void common() throws IOException {
        if (driverObject != null) return;
        if (commonFailure != null) throw new AssertionError(commonFailure);
        try {
            buildCommon();
        } catch (AssertionError e) {
            commonFailure = e.getMessage();
            throw e;
        }
    }

    private static void buildCommon() throws IOException {
        String shim = Files.readString(SHIM);
        Path dir = Files.createDirectories(CACHE.resolve("common-" + sha(shim + DRIVER + FLAGS).substring(0, 16)));
        Path header = dir.resolve("kernel_emulation.h"), gch = dir.resolve("kernel_emulation.h.gch"), obj = dir.resolve("driver.o");
        if (!Files.isRegularFile(obj)) {
            Files.writeString(header, shim);
            List<String> pch = new ArrayList<>(List.of("g++"));
            pch.addAll(FLAGS);
            pch.addAll(List.of("-x", "c++-header", header.toString(), "-o", gch + ".tmp"));
            String err = exec(pch, 300);
            if (err != null) throw new AssertionError("cannot precompile " + SHIM + ": " + err);
            Files.move(Path.of(gch + ".tmp"), gch, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(dir.resolve("driver.cpp"), DRIVER);
            err = gpp(header, List.of("-c", dir.resolve("driver.cpp").toString(), "-o", obj + ".tmp"));
            if (err != null) throw new AssertionError("cannot compile the emulation driver: " + err);
            Files.move(Path.of(obj + ".tmp"), obj, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        pchHeader = header;
        driverObject = obj;
    }

    private static String gpp(Path header, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("g++"));
        cmd.addAll(FLAGS);
        cmd.addAll(List.of("-include", header.toAbsolutePath().toString()));
        cmd.addAll(args);
        return exec(cmd, 300);
    }

    private static final Map<String, Object> FILE_LOCKS = new java.util.concurrent.ConcurrentHashMap<>();

    /** The binary of one .cu file with every kernel {@link Kernel#all()} lists for it, compiled once per source version. */
    private static Path fileBinary(String file) throws IOException {
        common();
        synchronized (FILE_LOCKS.computeIfAbsent(file, f -> new Object())) {
            List<Kernel> kernels = Kernel.all().stream().filter(k -> k.file().equals(file)).toList();
            String source = Files.readString(CUDA.resolve(file + ".cu"));
            String common = Files.readString(CUDA.resolve("common.cuh"));
            String dispatch = dispatch(kernels);
            String hash = sha(source + common + Files.readString(SHIM) + dispatch + DRIVER + FLAGS);
            Path dir = Files.createDirectories(CACHE.resolve(file + "-" + hash.substring(0, 16)));
            Path binary = dir.resolve("run");
            if (Files.isExecutable(binary)) return binary;
            Matcher m = EXTERN_SHARED.matcher(source);
            String rewritten = m.replaceAll("$1* $2 = ($1*)emu_dynamic_shared;");
            Files.writeString(dir.resolve(file + ".cpp"), rewritten);
            Files.writeString(dir.resolve("common.cuh"), common);
            Files.writeString(dir.resolve("dispatch.cpp"), dispatch);
            String err = gpp(pchHeader, List.of("-c", dir.resolve(file + ".cpp").toString(), "-o", dir.resolve("kernels.o").toString()));
            if (err != null) throw new AssertionError("cannot compile " + file + ".cu for emulation: " + err);
            List<String> link = new ArrayList<>(List.of("g++"));
            link.addAll(FLAGS);
            link.addAll(List.of(dir.resolve("dispatch.cpp").toString(), dir.resolve("kernels.o").toString(),
                    driverObject.toAbsolutePath().toString(), "-o", binary + ".tmp"));
            err = exec(link, 300);
            if (err != null) throw new AssertionError("cannot link the emulation of " + file + ".cu: " + err);
            Files.move(Path.of(binary + ".tmp"), binary, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return binary;
        }
    }

    /** The name → thunk table of one file's kernels: each thunk unpacks the argument array into the kernel's parameters. */
    private static String dispatch(List<Kernel> kernels) {
        StringBuilder protos = new StringBuilder(), thunks = new StringBuilder(), table = new StringBuilder();
        for (Kernel k : kernels) {
            String sig = k.signature();
            StringBuilder proto = new StringBuilder(), call = new StringBuilder();
            for (int i = 0; i < sig.length(); i++) {
                String sep = i == 0 ? "" : ", ";
                switch (sig.charAt(i)) {
                    case 'p' -> { proto.append(sep).append("void*"); call.append(sep).append("a[").append(i).append("].p"); }
                    case 'i' -> { proto.append(sep).append("int"); call.append(sep).append("(int)a[").append(i).append("].l"); }
                    case 'l' -> { proto.append(sep).append("long long"); call.append(sep).append("a[").append(i).append("].l"); }
                    case 'f' -> { proto.append(sep).append("float"); call.append(sep).append("a[").append(i).append("].f"); }
                    default -> throw new IllegalStateException("signature letter " + sig.charAt(i));
                }
            }
            protos.append("extern \"C\" void ").append(k.function()).append('(').append(proto).append(");\n");
            thunks.append("static void t_").append(k.function()).append("(const emu_arg* a) { ").append(k.function())
                    .append('(').append(call).append("); }\n");
            table.append("    {\"").append(k.function()).append("\", ").append(k.signature().length()).append(", t_")
                    .append(k.function()).append("},\n");
        }
        return """
                #include <cstring>
                struct emu_arg { void* p; long long l; float f; };
                typedef void (*emu_thunk)(const emu_arg*);
                %s%s
                struct emu_entry { const char* name; int arity; emu_thunk thunk; };
                static const emu_entry table[] = {
                %s};
                extern "C" emu_thunk emu_find(const char* name, int arity) {
                    for (const emu_entry& e : table) if (std::strcmp(e.name, name) == 0) return e.arity == arity ? e.thunk : nullptr;
                    return nullptr;
                }
                """.formatted(protos, thunks, table);
    }

    /** The generic driver: reads a spec (function, grid, block, shared bytes, buffers, arguments), launches, writes back. */
    private static final String DRIVER = """
            #include <cstdio>
            #include <cstdlib>
            #include <cstring>
            #include <fstream>
            #include <string>
            #include <vector>
            struct emu_arg { void* p; long long l; float f; };
            typedef void (*emu_thunk)(const emu_arg*);
            extern "C" emu_thunk emu_find(const char* name, int arity);
            static void die(const std::string& m) { fprintf(stderr, "%s\\n", m.c_str()); exit(2); }
            int main(int argc, char** argv) {
                if (argc != 2) die("usage: run SPEC");
                std::ifstream in(argv[1]);
                std::string w, fn; emu_dim3 grid, block; long long smem;
                in >> w >> fn >> w >> grid.x >> grid.y >> grid.z >> w >> block.x >> block.y >> block.z >> w >> smem;
                std::vector<std::vector<unsigned char>> bufs; std::vector<std::string> paths;
                while (in >> std::ws && in.peek() == 'b') {
                    long long n; std::string p; in >> w >> n >> p;
                    std::vector<unsigned char> b(n + 64);   // slack: an overrun shows up below, not as a crash
                    std::ifstream f(p, std::ios::binary); f.read((char*)b.data(), n);
                    std::memset(b.data() + n, 0x5A, 64);
                    bufs.push_back(std::move(b)); paths.push_back(p);
                }
                std::vector<emu_arg> args;
                std::string kind;
                while (in >> kind) {
                    emu_arg a{nullptr, 0, 0.f};
                    if (kind == "null") { }
                    else if (kind == "ptr") { long long id, off; in >> id >> off; a.p = bufs.at(id).data() + off; }
                    else if (kind == "int" || kind == "long") in >> a.l;
                    else if (kind == "float") { long long bits; in >> bits; unsigned u = (unsigned)bits; std::memcpy(&a.f, &u, 4); }
                    else die("bad argument kind " + kind);
                    args.push_back(a);
                }
                emu_thunk t = emu_find(fn.c_str(), (int)args.size());
                if (!t) die("no kernel " + fn + " with " + std::to_string(args.size()) + " parameters in this binary");
                emu_launch(grid, block, (size_t)smem, [&]() { t(args.data()); });
                for (size_t i = 0; i < bufs.size(); i++) {
                    size_t n = bufs[i].size() - 64;
                    for (size_t j = n; j < n + 64; j++) if (bufs[i][j] != 0x5A) die("buffer " + std::to_string(i) + " written past its end");
                    std::ofstream f(paths[i] + ".out", std::ios::binary); f.write((const char*)bufs[i].data(), n);
                }
                return 0;
            }
            """;

    /** Runs a command; null when it exits 0, else its exit status and output. */
    private static String exec(List<String> command, long timeoutSeconds) throws IOException {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            return "cannot run " + command.get(0) + ": " + e.getMessage();
        }
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "timed out after " + timeoutSeconds + " s: " + String.join(" ", command);
            }
            if (p.exitValue() == 0) return null;
            String text = new String(out, StandardCharsets.UTF_8);
            return "exit " + p.exitValue() + ": " + (text.length() > 4000 ? text.substring(0, 4000) + "..." : text);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            return "interrupted";
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    private static String sha(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
