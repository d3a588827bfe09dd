namespace Embargo.Weights;
internal static class AssemblyMarker;
