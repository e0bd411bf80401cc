using System.Text.Json;
using System.Text.Json.Nodes;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>
/// Where a train step's time goes, from ONNX Runtime's profile (Chrome-trace JSON: one <c>Node</c> event per kernel run
/// with its op type and its inputs' and output's shapes): milliseconds per step by op type, and each matrix product's
/// GFLOP/s (2MNK from its shapes) beside the machine's SGEMM, so a slow Gemm shows against what the same cores do.
/// </summary>
public static class StepProfile
{
    /// <summary>Summarizes the profile at <paramref name="path"/> over <paramref name="steps"/> steps.</summary>
    public static JsonObject Summarize(string path, int steps, double sgemmGflops)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var byOp = new Dictionary<string, (double Us, int Nodes)>();
        var products = new Dictionary<string, (double Us, double Flops, string Shapes)>();
        var nodes = new Dictionary<string, (string Op, double Us)>();
        foreach (var e in document.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node" || !e.TryGetProperty("args", out var args) || !args.TryGetProperty("op_name", out var op)) continue;
            string name = e.GetProperty("name").GetString()!;
            if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            double us = e.GetProperty("dur").GetDouble();
            string type = op.GetString()!;
            var (total, runs) = byOp.GetValueOrDefault(type);
            byOp[type] = (total + us, runs + 1);
            nodes[name] = (type, nodes.GetValueOrDefault(name).Us + us);
            if (type is "Gemm" or "MatMul" or "FusedGemm" or "FusedMatMul" && Flops(args) is { } flops)
            {
                var (t, f, _) = products.GetValueOrDefault(name);
                products[name] = (t + us, f + flops.Value, flops.Shapes);
            }
        }
        double all = byOp.Values.Sum(v => v.Us);
        var ops = new JsonArray();
        foreach (var (type, (us, runs)) in byOp.OrderByDescending(kv => kv.Value.Us))
            ops.Add(new JsonObject { ["op"] = type, ["ms_per_step"] = Math.Round(us / 1000 / steps, 3), ["share"] = Math.Round(us / all, 4), ["kernels_per_step"] = runs / steps });
        var slowest = new JsonArray();
        foreach (var (name, (type, us)) in nodes.Where(n => n.Value.Op is not ("Gemm" or "MatMul" or "FusedGemm" or "FusedMatMul")).OrderByDescending(kv => kv.Value.Us).Take(12))
            slowest.Add(new JsonObject { ["node"] = name[..^"_kernel_time".Length], ["op"] = type, ["ms_per_step"] = Math.Round(us / 1000 / steps, 3) });
        var gemms = new JsonArray();
        // A tiny product can read 0 microseconds: no rate to give (and JSON has no infinity).
        foreach (var (name, (us, flops, shapes)) in products.Where(kv => kv.Value.Us > 0).OrderByDescending(kv => kv.Value.Us).Take(12))
        {
            double gflops = flops / (us * 1e-6) / 1e9;
            gemms.Add(new JsonObject
            {
                ["node"] = name[..^"_kernel_time".Length], ["shapes"] = shapes, ["ms_per_step"] = Math.Round(us / 1000 / steps, 3),
                ["gflops"] = Math.Round(gflops, 1), ["over_sgemm"] = Math.Round(gflops / sgemmGflops, 3),
            });
        }
        double productUs = products.Values.Sum(v => v.Us), productFlops = products.Values.Where(v => v.Us > 0).Sum(v => v.Flops);
        double productGflops = productUs > 0 ? productFlops / (productUs * 1e-6) / 1e9 : 0;
        return new JsonObject
        {
            ["steps"] = steps,
            ["kernel_ms_per_step"] = Math.Round(all / 1000 / steps, 3),
            ["matrix_products_share"] = Math.Round(productUs / all, 4),
            ["matrix_products_gflops"] = Math.Round(productGflops, 1),
            ["matrix_products_over_sgemm"] = Math.Round(productGflops / sgemmGflops, 3),
            ["by_op"] = ops,
            ["slowest_matrix_products"] = gemms,
            ["slowest_other_kernels"] = slowest,
        };
    }

    // 2MNK of a Gemm or MatMul from its profiled input shapes (the transposes read from the output's shape).
    private static (double Value, string Shapes)? Flops(JsonElement args)
    {
        if (!args.TryGetProperty("input_type_shape", out var inputs) || !args.TryGetProperty("output_type_shape", out var outputs)) return null;
        static long[] Dims(JsonElement shape) => shape.EnumerateObject().First().Value.EnumerateArray().Select(d => d.GetInt64()).ToArray();
        var list = inputs.EnumerateArray().ToArray();
        if (list.Length < 2) return null;
        long[] a = Dims(list[0]), b = Dims(list[1]), y = Dims(outputs.EnumerateArray().First());
        if (a.Length != 2 || b.Length != 2 || y.Length != 2) return null;
        // Y [M, N]; K is the dimension of A that is not M.
        long m = y[0], n = y[1], k = a[0] == m && a[1] != m ? a[1] : a[0] != m ? a[0] : a[1];
        return (2.0 * m * n * k, $"[{string.Join('x', a)}] x [{string.Join('x', b)}] -> [{string.Join('x', y)}]");
    }
}
