using System.Text.Json;

namespace Recommender.Pipeline.Data;

/// <summary>Reads JSON configuration files with errors located as <c>file:line:column</c>.</summary>
public static class JsonFile
{
    /// <summary>Deserializes <paramref name="path"/>; a syntax error or an unknown property names its position.</summary>
    public static T Read<T>(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), DatasetSchema.JsonOptions)
                ?? throw new SchemaException($"{path}: the file holds null");
        }
        catch (JsonException e)
        {
            long line = (e.LineNumber ?? 0) + 1;
            int column = (int)(e.BytePositionInLine ?? 0) + 1;
            string reason = e.Message;
            int cut = reason.IndexOf(" Path:", StringComparison.Ordinal);
            if (cut > 0) reason = reason[..cut];
            throw new DataFormatException(path, line, column, $"{reason} (at {e.Path})");
        }
    }
}
