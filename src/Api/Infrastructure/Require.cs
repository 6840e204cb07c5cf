using Lectures.Grains.Common;

namespace Lectures.Api.Infrastructure;

/// <summary>Request-body validation shared by every feature: a failure is a 400 <c>validation</c> problem with an <c>errors</c> map.</summary>
public static class Require
{
    public const int MaxTextChars = 8_000;
    public const int MaxJsonFieldChars = 64 * 1024;

    public static DomainException Invalid(string field, string message) => DomainException.Invalid(field, message);

    public static string Text(string? value, string field, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid(field, $"{field} is required.");
        }

        MaxLength(value, field, maxLength);
        return value;
    }

    public static void MaxLength(string? value, string field, int maxLength)
    {
        if (value is not null && value.Length > maxLength)
        {
            throw Invalid(field, $"{field} must be at most {maxLength} characters.");
        }
    }

    public static string Id(string? value, string field)
    {
        if (!IdValidation.IsValid(value))
        {
            throw Invalid(field, $"{field} is required and must match {IdValidation.Pattern}.");
        }

        return value!;
    }

    public static string Worker(string? workerId) => Id(workerId, "workerId");
}
