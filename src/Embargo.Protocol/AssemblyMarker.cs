namespace Embargo.Protocol;
internal static class AssemblyMarker;
