using System.CommandLine;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Scoring;
using Recommender.Pipeline.Serving;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Cli;

/// <summary><c>evaluate-policy</c>: off-policy estimates of a model and policy from a service's impression log.</summary>
internal static class EvaluatePolicyCommand
{
    public static Command Create()
    {
        var log = new Option<FileInfo>("--log") { Description = "The service's impression log (SQLite)", Required = true };
        var model = new Option<string>("--model") { Description = "The model to evaluate: a registry (its current version) or a version folder", Required = true };
        var policy = new Option<string>("--policy") { Description = "The policy to evaluate: greedy, epsilon:E or softmax:T", DefaultValueFactory = _ => "greedy" };
        var rank = new Option<string>("--rank") { Description = "Its ranking formula", DefaultValueFactory = _ => "pctr * pcvr" };
        var reward = new Option<PolicyReward>("--reward") { Description = "Click, Conversion or Value (a dense column per conversion)", DefaultValueFactory = _ => PolicyReward.Click };
        var valueColumn = new Option<string?>("--value-column") { Description = "With --reward Value: the dense column (e.g. item_price)" };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples for the 95% intervals", DefaultValueFactory = _ => 500 }.AtLeast(0);
        var seed = new Option<int>("--seed") { Description = "Seed of the bootstrap", DefaultValueFactory = _ => 1 };
        var command = new Command("evaluate-policy", "Estimate, from logged recommendations with their propensities, the click rate, conversion rate or value a model and policy would get: IPS, self-normalized IPS and doubly robust, with bootstrap intervals and the effective sample size")
        {
            log, model, policy, rank, reward, valueColumn, bootstrap, seed,
        };
        command.SetAction(result =>
        {
            var options = new ServingOptions { Model = result.GetValue(model)!, Device = ExecutionDevice.Cpu, MicroBatching = false };
            using var served = ServedModel.Load(Lifecycle.ModelBundle.Open(result.GetValue(model)!).Directory, options);
            var target = ExplorationPolicy.Parse(result.GetValue(policy)!);
            var r = PolicyEvaluation.Run(result.GetValue(log)!.FullName, served, target, result.GetValue(rank)!, result.GetValue(reward), result.GetValue(valueColumn),
                result.GetValue(bootstrap), result.GetValue(seed));
            static JsonObject E(Estimate e) => new() { ["value"] = Math.Round(e.Value, 6), ["ci95"] = new JsonArray(Math.Round(e.Low, 6), Math.Round(e.High, 6)) };
            var node = new JsonObject
            {
                ["model"] = served.Version, ["policy"] = target.Name, ["rank"] = result.GetValue(rank), ["reward"] = result.GetValue(reward).ToString().ToLowerInvariant(),
                ["decisions"] = r.Decisions, ["logged_mean"] = Math.Round(r.LoggedMean, 6), ["ips"] = E(r.Ips), ["snips"] = E(r.SelfNormalizedIps), ["dr"] = E(r.DoublyRobust),
                ["effective_sample_size"] = Math.Round(r.EffectiveSampleSize, 1), ["max_weight"] = Math.Round(r.MaxWeight, 3),
                ["warnings"] = new JsonArray(r.Warnings.Select(w => (JsonNode)w).ToArray()),
            };
            Console.WriteLine(MetricsReport.Format(node));
            return 0;
        });
        return command;
    }
}
