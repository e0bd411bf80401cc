using Microsoft.ML.OnnxRuntime;

namespace Recommender.Trainers.Runtime;

/// <summary>
/// Creates ONNX Runtime sessions on the chosen device. <see cref="ExecutionDevice.Cuda"/> fails with a clear
/// error where CUDA cannot start and sets <c>session.disable_cpu_ep_fallback=1</c> so no node silently
/// runs on the CPU; <see cref="ExecutionDevice.Auto"/> falls back to the CPU and says so once per process.
/// Availability is decided by actually starting the provider: <c>GetAvailableProviders()</c> lists CUDA
/// even where its libraries are missing.
/// </summary>
public static class SessionFactory
{
    private static int _fallbackLogged;

    /// <summary>Where messages go (default: standard error). Tests may replace it.</summary>
    public static Action<string> Log { get; set; } = message => Console.Error.WriteLine(message);

    /// <summary>Creates a session for <paramref name="model"/>; <paramref name="device"/> says where it runs.</summary>
    public static InferenceSession Create(byte[] model, RuntimeOptions options, out ExecutionDevice device)
    {
        using var sessionOptions = CreateOptions(options, out device);
        return new InferenceSession(model, sessionOptions);
    }

    /// <summary>Session options for the device choice; the caller owns them.</summary>
    public static SessionOptions CreateOptions(RuntimeOptions options, out ExecutionDevice device)
    {
        var so = new SessionOptions
        {
            GraphOptimizationLevel = options.Optimization,
            IntraOpNumThreads = options.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        so.AddSessionConfigEntry("session.intra_op.allow_spinning", options.AllowSpinning ? "1" : "0");
        // Spinning ends with the run: the host's work between runs gets the cores back.
        so.AddSessionConfigEntry("session.force_spinning_stop", "1");
        if (options.ProfilePrefix is { } prefix)
        {
            // The prefix first: enabling profiling hands ONNX Runtime the prefix set at that moment (the default one, in
            // the working directory, otherwise).
            so.ProfileOutputPathPrefix = prefix;
            so.EnableProfiling = true;
        }
        device = ExecutionDevice.Cpu;
        if (options.Device == ExecutionDevice.Cpu) return so;
        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>
            {
                ["device_id"] = options.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["use_tf32"] = options.AllowTf32 ? "1" : "0",
            });
            so.AppendExecutionProvider_CUDA(cuda);
            if (options.Device == ExecutionDevice.Cuda) so.AddSessionConfigEntry("session.disable_cpu_ep_fallback", "1");
            device = ExecutionDevice.Cuda;
            return so;
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            if (options.Device == ExecutionDevice.Cuda)
            {
                so.Dispose();
                throw new InvalidOperationException(
                    $"CUDA was requested but ONNX Runtime's CUDA provider could not start ({Reason(e.Message)}). " +
                    "It needs an NVIDIA GPU and the CUDA 13 libraries (libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10) on the library path; use --device cpu or auto.", e);
            }
            if (Interlocked.Exchange(ref _fallbackLogged, 1) == 0)
                Log($"note: CUDA is not available ({Reason(e.Message)}); running on the CPU.");
            return so;
        }
    }

    /// <summary>
    /// What stopped the provider, from ONNX Runtime's message: its first line, and of a library that failed to load only the
    /// loader's own words ("libcublasLt.so.13: cannot open shared object file: No such file or directory"), not the source
    /// location and install path before them.
    /// </summary>
    internal static string Reason(string message)
    {
        int i = message.IndexOf('\n');
        var line = (i < 0 ? message : message[..i]).Trim();
        const string marker = "with error: ";
        int at = line.LastIndexOf(marker, StringComparison.Ordinal);
        return at < 0 || at + marker.Length == line.Length ? line : line[(at + marker.Length)..];
    }
}
