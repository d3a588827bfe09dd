namespace Embargo.Evaluation;
internal static class AssemblyMarker;
