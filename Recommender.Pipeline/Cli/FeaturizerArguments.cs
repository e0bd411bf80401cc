using System.CommandLine;
using Recommender.Pipeline.Featurization;

namespace Recommender.Pipeline.Cli;

/// <summary>The featurizer's options on the command line (<c>train</c>, <c>compare</c>): how values are pooled into the unknown key.</summary>
internal sealed class FeaturizerArguments
{
    public readonly Option<int> MinCount = new Option<int>("--min-count") { Description = "Categorical values seen fewer times than this in training share the out-of-vocabulary key (rare ids pooled; default 1: every value its own key)", DefaultValueFactory = _ => FeaturizerOptions.Defaults.MinCount }.AtLeast(1);
    public readonly Option<int> MinDays = new Option<int>("--min-days") { Description = "With the schema's time column: a calendar field's values (one value a day, as a weekday) held on fewer training days than this share the out-of-vocabulary key; a field left with none is left out (1: count rows only)", DefaultValueFactory = _ => FeaturizerOptions.Defaults.MinDays }.AtLeast(1);

    public void AddTo(Command command)
    {
        command.Options.Add(MinCount);
        command.Options.Add(MinDays);
    }

    public FeaturizerOptions Build(ParseResult result) => new() { MinCount = result.GetValue(MinCount), MinDays = result.GetValue(MinDays) };
}
