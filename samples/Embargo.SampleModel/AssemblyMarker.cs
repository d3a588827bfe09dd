namespace Embargo.SampleModel;
internal static class AssemblyMarker;
