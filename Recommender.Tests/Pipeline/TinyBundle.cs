using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Lifecycle;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

/// <summary>Generated data and a small model bundle trained on it, for the tests of what uses bundles.</summary>
internal static class TinyBundle
{
    public static (string Data, string Bundle, TrainingResult Result) Train(string root, long rows, ulong seed,
        MultiTaskArchitecture architecture = MultiTaskArchitecture.SharedBottom, bool funnel = false, int history = 0)
    {
        string data = Path.Combine(root, "sim");
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = rows, Seed = seed, Funnel = funnel, Favourite = funnel, History = history }, data);
        string bundle = Path.Combine(root, "bundle");
        var result = TrainingJob.Run(TrainingData.FromDirectory(data), new MultiTaskTrainerOptions
        {
            Architecture = architecture, Epochs = 1, BatchSize = 512, EmbeddingDim = 4, Bottom = [16], Tower = [8], Device = ExecutionDevice.Cpu, Threads = 1,
        }, bundle, _ => { });
        return (data, result.Bundle, result); // the published version's folder
    }
}
