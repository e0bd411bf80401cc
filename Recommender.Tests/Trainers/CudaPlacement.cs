using Onnx;
using Recommender.Trainers.Runtime;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Tests.Trainers;

/// <summary>
/// Replays, on the CPU, what ONNX Runtime's CUDA execution provider does with a graph at session creation:
/// which nodes have no CUDA kernel for their element type, and which nodes its partitioner would hand to
/// the CPU anyway (<c>GetCpuPreferredNodes</c> in <c>fallback_cpu_capability.cc</c>: small shape-arithmetic
/// subgraphs fed by or feeding host-memory arguments). Either makes a CUDA session with
/// <c>session.disable_cpu_ep_fallback=1</c> fail on the GPU. The replay follows the ONNX Runtime source on the
/// graph as built; it does not constant-fold first, so it may flag a subgraph ONNX Runtime would fold away
/// (stricter, never laxer).
/// </summary>
internal static class CudaPlacement
{
    private const long SmallInitializer = 100;

    public sealed record Report(List<string> Unsupported, List<string> CpuPreferred);

    public static Report Check(byte[] modelBytes)
    {
        var graph = ModelProto.Parser.ParseFrom(modelBytes).Graph;
        var types = new Dictionary<string, DataType>();
        var sizes = new Dictionary<string, long>();
        foreach (var t in graph.Initializer)
        {
            types[t.Name] = (DataType)t.DataType;
            sizes[t.Name] = t.Dims.Aggregate(1L, (a, b) => a * b);
        }
        var graphInputs = new HashSet<string>();
        foreach (var i in graph.Input)
        {
            if (sizes.ContainsKey(i.Name)) continue;
            graphInputs.Add(i.Name);
            types[i.Name] = (DataType)i.Type.TensorType.ElemType;
        }

        // ONNX Runtime turns Constant nodes into initializers on load; the rest are the nodes it places.
        var nodes = new List<NodeProto>();
        foreach (var n in graph.Node)
        {
            if (n.OpType == "Constant")
            {
                var t = n.Attribute.Single(a => a.Name == "value").T;
                types[n.Output[0]] = (DataType)t.DataType;
                sizes[n.Output[0]] = t.Dims.Aggregate(1L, (a, b) => a * b);
            }
            else nodes.Add(n);
        }

        var unsupported = new List<string>();
        var producer = new Dictionary<string, int>();
        var consumers = new Dictionary<string, List<int>>();
        for (int k = 0; k < nodes.Count; k++)
        {
            var n = nodes[k];
            var inputType = types.GetValueOrDefault(n.Input[n.OpType == "Where" ? 1 : 0], DataType.Undefined);
            if (!CudaKernels.Types.TryGetValue(n.OpType, out var allowed) || !allowed.Contains(inputType))
                unsupported.Add($"{n.OpType}({inputType}) '{n.Name}'");
            var outputType = n.OpType switch
            {
                "Cast" => (DataType)n.Attribute.Single(a => a.Name == "to").I,
                "Shape" or "Size" => DataType.Int64,
                "Greater" or "GreaterOrEqual" or "Less" or "LessOrEqual" => DataType.Bool,
                "Where" => types.GetValueOrDefault(n.Input[1], DataType.Undefined),
                _ => inputType,
            };
            foreach (var o in n.Output) { types[o] = outputType; producer[o] = k; }
            foreach (var i in n.Input.Where(i => i.Length > 0))
            {
                if (!consumers.TryGetValue(i, out var list)) consumers[i] = list = new List<int>();
                list.Add(k);
            }
        }

        bool IsHostInput(int k, int index) => CudaKernels.HostInputs.TryGetValue(nodes[k].OpType, out var ix) && ix.Contains(index);
        bool IsHostOutput(int k, int index) => CudaKernels.HostOutputs.TryGetValue(nodes[k].OpType, out var ix) && ix.Contains(index);

        var hostArgs = new HashSet<string>();
        var forward = new PriorityQueue<int, int>();
        var backward = new PriorityQueue<int, int>();
        for (int k = 0; k < nodes.Count; k++)
        {
            for (int o = 0; o < nodes[k].Output.Count; o++)
            {
                if (!IsHostOutput(k, o)) continue;
                hostArgs.Add(nodes[k].Output[o]);
                foreach (var c in consumers.GetValueOrDefault(nodes[k].Output[o]) ?? []) forward.Enqueue(c, c);
            }
            for (int i = 0; i < nodes[k].Input.Count; i++)
            {
                if (!IsHostInput(k, i)) continue;
                hostArgs.Add(nodes[k].Input[i]);
                if (producer.TryGetValue(nodes[k].Input[i], out var p)) backward.Enqueue(p, -p);
            }
        }

        var cpu = new SortedSet<int>();
        var visited = new HashSet<int>();
        while (forward.TryDequeue(out var k, out _))
        {
            if (!visited.Add(k)) continue;
            bool place = true;
            for (int i = 0; i < nodes[k].Input.Count && place; i++)
            {
                var input = nodes[k].Input[i];
                if (input.Length == 0) continue;
                if (sizes.TryGetValue(input, out var size) && size <= SmallInitializer || graphInputs.Contains(input)) continue;
                if (!hostArgs.Contains(input) || IsHostInput(k, i)) place = false;
            }
            if (!place) continue;
            cpu.Add(k);
            foreach (var o in nodes[k].Output)
            {
                hostArgs.Add(o);
                foreach (var c in consumers.GetValueOrDefault(o) ?? []) forward.Enqueue(c, c);
            }
        }
        visited.Clear();
        while (backward.TryDequeue(out var k, out _))
        {
            if (!visited.Add(k) || cpu.Contains(k)) continue;
            bool place = true;
            for (int o = 0; o < nodes[k].Output.Count && place; o++)
                if (!hostArgs.Contains(nodes[k].Output[o]) || IsHostOutput(k, o)) place = false;
            if (!place) continue;
            cpu.Add(k);
            foreach (var input in nodes[k].Input.Where(i => i.Length > 0))
            {
                hostArgs.Add(input);
                if (producer.TryGetValue(input, out var p)) backward.Enqueue(p, -p);
            }
        }
        return new Report(unsupported, cpu.Select(k => $"{nodes[k].OpType} '{nodes[k].Name}'").ToList());
    }
}
