using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Lectures.Grains.Hosting;

/// <summary>The cluster identity and endpoints of a silo, bound from <c>Orleans</c> (README, Configuration).</summary>
public sealed class ClusterOptions : IValidatableObject
{
    public const string Section = "Orleans";

    [Required, RegularExpression("^[A-Za-z0-9._-]{1,64}$", ErrorMessage = "Orleans:ClusterId must be 1 to 64 of A-Z a-z 0-9 . _ -.")]
    public string ClusterId { get; set; } = "dev";

    [Required, RegularExpression("^[A-Za-z0-9._-]{1,64}$", ErrorMessage = "Orleans:ServiceId must be 1 to 64 of A-Z a-z 0-9 . _ -.")]
    public string ServiceId { get; set; } = "lectures";

    [Range(1, 65535, ErrorMessage = "Orleans:SiloPort must be from 1 to 65535.")]
    public int SiloPort { get; set; } = 11111;

    [Range(1, 65535, ErrorMessage = "Orleans:GatewayPort must be from 1 to 65535.")]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other silos reach this one at (cluster mode).</summary>
    public string AdvertisedIP { get; set; } = IPAddress.Loopback.ToString();

    /// <summary>
    /// Runs on Kubernetes (cluster mode): the pod gives the silo its address and identity (<see cref="KubernetesMode"/>).
    /// Unset: on when the downward API variables (POD_NAME, POD_NAMESPACE, POD_IP) are set.
    /// </summary>
    public bool? Kubernetes { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(AdvertisedIP, out _))
        {
            yield return new("Orleans:AdvertisedIP must be an IP address.", [nameof(AdvertisedIP)]);
        }

        if (SiloPort == GatewayPort)
        {
            yield return new("Orleans:SiloPort and Orleans:GatewayPort must differ.", [nameof(GatewayPort)]);
        }
    }
}

/// <summary>Options a host needs before its services exist (to configure Orleans or Kestrel): bound and validated at once.</summary>
public static class StartupOptions
{
    /// <summary>Binds <typeparamref name="T"/> from <paramref name="section"/>; a value that does not parse or break a rule stops the host here.</summary>
    public static T Read<T>(IConfiguration configuration, string section) where T : class, new()
    {
        T options;
        try
        {
            options = configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException e)
        {
            throw new OptionsValidationException(section, typeof(T), [e.Message]);
        }

        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            throw new OptionsValidationException(section, typeof(T), results.Select(r => r.ErrorMessage ?? r.ToString()));
        }

        return options;
    }
}
