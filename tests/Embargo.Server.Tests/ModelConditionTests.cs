using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>A fine-tuned (or tool-augmented, or assisted) variant is another endpoint registered as a condition of the same version.</summary>
public sealed class ModelConditionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static RegisterModelConditionRequest FineTune => new()
    {
        Name = "ft-cyber", Kind = "fine-tuned", ModelName = "camelid-7b-ft-cyber", Endpoint = "http://127.0.0.1:8000/v1",
    };

    [Fact]
    public async Task AnEvaluationNamesTheRegisteredConditionItsSubjectRanAs()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var condition = await w.Developer.Models.RegisterConditionAsync(w.Version.Id, FineTune, default);
        Assert.Equal("fine-tuned", condition.Kind);
        Assert.Single(await w.Regulator.Models.ConditionsAsync(w.Version.Id, default));
        await w.DriveToAsync(Milestone.Testing);

        var evaluation = await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing, subjectModel: FineTune.ModelName) with { SubjectCondition = "ft-cyber" });
        Assert.Equal("ft-cyber", evaluation.SubjectCondition);
        Assert.Contains(await LeavesAsync(Host), l => l.Type == "evaluation.recorded" && l.Data["condition"]?.GetValue<string>() == "ft-cyber");

        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing) with { SubjectCondition = "never-registered" }));
        Assert.Contains("never-registered", e.Detail);
    }

    [Fact]
    public async Task OnlyTheModelsDeveloperRegistersConditionsAndNamesAreUnique()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
            () => w.OtherDeveloper.Models.RegisterConditionAsync(w.Version.Id, FineTune, default));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
            () => w.Evaluator.Models.RegisterConditionAsync(w.Version.Id, FineTune, default));
        await w.Developer.Models.RegisterConditionAsync(w.Version.Id, FineTune, default);
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Developer.Models.RegisterConditionAsync(w.Version.Id, FineTune, default));
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Developer.Models.RegisterConditionAsync(w.Version.Id, FineTune with { Name = "x", Kind = "magic" }, default));
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Developer.Models.RegisterConditionAsync(w.Version.Id, FineTune with { Name = "y", Endpoint = "ftp://nowhere" }, default));
    }
}
