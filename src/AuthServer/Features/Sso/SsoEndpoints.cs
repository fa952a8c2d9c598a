using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.External;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.RateLimits;
using AuthServer.Sessions;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Sso;

/// SAML 2.0 sign-in as a service provider (GoTrue internal/api/sso.go, saml.go, samlacs.go): `POST /sso`
/// sends the browser to the IdP with a signed AuthnRequest (HTTP-Redirect binding), the IdP posts the
/// signed response to `POST /sso/saml/acs` (HTTP-POST binding), and `GET /sso/saml/metadata` describes us.
internal static class SsoEndpoints
{
    /// GoTrue `models.SSOSAML`: the AMR method, flow_state provider type and authentication method.
    public const string AmrMethod = "sso/saml";

    sealed record SingleSignOnRequest(Guid? ProviderId, string? Domain, string? RedirectTo, bool? SkipHttpRedirect,
        string? CodeChallenge, string? CodeChallengeMethod);

    /// GoTrue `SingleSignOn`.
    public static async Task<IResult> SingleSignOnAsync(HttpContext http, SamlOptions saml, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<SingleSignOnRequest>(http.Request, ct);
        var hasProviderId = body.ProviderId is { } pid && pid != Guid.Empty;
        var hasDomain = !string.IsNullOrEmpty(body.Domain);
        if (hasProviderId && hasDomain)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only one of provider_id or domain supported");
        if (!hasProviderId && !hasDomain)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "A provider_id or domain needs to be provided");

        await using var conn = await db.OpenConnectionAsync(ct);
        var provider = hasProviderId
            ? await SsoQueries.FindByIdAsync(conn, body.ProviderId!.Value, ct)
                ?? throw ApiError.NotFound(ErrorCode.SsoProviderNotFound, "No such SSO provider")
            : await SsoQueries.FindByDomainAsync(conn, body.Domain!, ct)
                ?? throw ApiError.NotFound(ErrorCode.SsoProviderNotFound, "No SSO provider assigned for this domain");
        if (!provider.IsEnabled)
            throw ApiError.NotFound(ErrorCode.SsoProviderDisabled, "SSO Provider is currently disabled");
        var pkce = PkceParams.From(body.CodeChallenge, body.CodeChallengeMethod);
        IdpMetadata idp;
        try
        {
            idp = IdpMetadata.Parse(provider.MetadataXml);
        }
        catch (ApiError e)
        {
            throw ApiError.Internal("Error parsing SAML Metadata for SAML provider", e);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var (requestId, requestUrl) = AuthnRequest(saml, idp, provider.NameIdFormat, now);
        var relayStateId = Guid.NewGuid();
        var flowStateId = Guid.NewGuid();
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            // GoTrue creates a flow state for every SSO flow; only a PKCE one is exchanged for a code later.
            await conn.ExecuteAsync(new CommandDefinition(
                """
                insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
                    created_at, updated_at, authentication_method, referrer)
                values (@flowStateId, null, gen_random_uuid()::text, @method::auth.code_challenge_method, @challenge, @type,
                    @now, @now, @type, @referrer)
                """,
                new
                {
                    flowStateId,
                    method = pkce?.Method,
                    challenge = pkce?.Challenge ?? "",
                    type = AmrMethod,
                    now,
                    referrer = body.RedirectTo ?? "",
                }, cancellationToken: ct));
            await SsoQueries.CreateRelayStateAsync(conn, relayStateId, provider.Id, requestId, body.RedirectTo, flowStateId, now, ct);
            await tx.CommitAsync(ct);
        }

        var url = SignRedirect(saml, requestUrl, relayStateId.ToString());
        if (body.SkipHttpRedirect == true)
            return Results.Json(new JsonObject { ["url"] = url }, Json.Options);
        return new SeeOther(url);
    }

    /// crewjam `MakeAuthenticationRequest` for the HTTP-Redirect binding, asking for an HTTP-POST response.
    static (string Id, string Xml) AuthnRequest(SamlOptions saml, IdpMetadata idp, string? nameIdFormat, DateTime now)
    {
        var id = "id-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        static string E(string value) => System.Security.SecurityElement.Escape(value);
        var xml =
            $"""<samlp:AuthnRequest xmlns:saml="{Saml.Assertion}" xmlns:samlp="{Saml.Protocol}" ID="{id}" Version="2.0" IssueInstant="{Saml.Iso(now)}" Destination="{E(idp.RedirectSsoUrl ?? "")}" AssertionConsumerServiceURL="{E(saml.AcsUrl)}" ProtocolBinding="{Saml.PostBinding}">""" +
            $"""<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{E(saml.MetadataUrl)}</saml:Issuer>""" +
            $"""<samlp:NameIDPolicy Format="{E(nameIdFormat ?? Saml.PersistentNameId)}" AllowCreate="true"></samlp:NameIDPolicy></samlp:AuthnRequest>""";
        var deflated = new MemoryStream();
        using (var deflate = new DeflateStream(deflated, CompressionLevel.Optimal, leaveOpen: true))
            deflate.Write(Encoding.UTF8.GetBytes(xml));
        var destination = idp.RedirectSsoUrl ?? "";
        return (id, destination + (destination.Contains('?') ? "&" : "?") + "SAMLRequest=" +
            Uri.EscapeDataString(Convert.ToBase64String(deflated.ToArray())));
    }

    /// The HTTP-Redirect binding's query signature (SAML bindings §3.4.4.1), RSA-SHA256 with our key.
    static string SignRedirect(SamlOptions saml, string url, string relayState)
    {
        const string sigAlg = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
        var at = url.IndexOf("SAMLRequest=", StringComparison.Ordinal);
        var signed = url[at..] + "&RelayState=" + Uri.EscapeDataString(relayState) + "&SigAlg=" + Uri.EscapeDataString(sigAlg);
        var signature = saml.Key!.SignData(Encoding.UTF8.GetBytes(signed), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return url[..at] + signed + "&Signature=" + Uri.EscapeDataString(Convert.ToBase64String(signature));
    }

    /// GoTrue `SAMLMetadata`: cacheable for 10 minutes; `?download=true` makes it an attachment valid for 5 years.
    public static IResult Metadata(HttpContext http, SamlOptions saml, TimeProvider clock)
    {
        var download = http.Request.Query["download"] == "true";
        http.Response.Headers.CacheControl = "public, max-age=600";
        if (download) http.Response.Headers.ContentDisposition = "attachment; filename=\"metadata.xml\"";
        return Results.Text(SpMetadata.Build(saml, clock.GetUtcNow().UtcDateTime, download), "application/xml", Encoding.UTF8);
    }

    /// GoTrue `SamlAcs`: every failure is a 303 to the site URL with the error in the query.
    public static async Task<IResult> AcsAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var saml = services.GetRequiredService<SamlOptions>();
        var limiter = services.GetRequiredService<RateLimiter>();
        await limiter.EnsureAsync(http, saml.AssertionRate, ct);
        try
        {
            return await HandleAcsAsync(http, ct);
        }
        catch (ApiError e)
        {
            var api = services.GetRequiredService<ApiOptions>();
            services.GetRequiredService<ILoggerFactory>().CreateLogger("AuthServer.Sso")
                .LogInformation("SAML ACS refused: {Code} {Reason}", e.Code, e.InnerException?.Message ?? e.Message);
            return new SeeOther(RedirectUrls.WithQuery(api.SiteUrl,
            [
                new("error", OAuthErrorName(e)),
                new("error_code", e.Code),
                new("error_description", e.Message),
            ]));
        }
    }

    /// GoTrue `getErrorQueryString`: a few codes are `access_denied`, else the OAuth name of the status.
    static string OAuthErrorName(ApiError e) => e.Code switch
    {
        ErrorCode.SignupDisabled or ErrorCode.UserBanned or ErrorCode.ProviderEmailNeedsVerification => "access_denied",
        _ => e.Status switch
        {
            400 => "invalid_request",
            401 => "unauthorized_client",
            403 => "access_denied",
            500 => "server_error",
            503 => "temporarily_unavailable",
            _ => "server_error",
        },
    };

    /// Largest POST body the ACS reads: a base64 response of <see cref="Saml.MaxXmlChars"/> plus the form around it.
    const int MaxAcsBody = Saml.MaxXmlChars / 3 * 4 + 16 * 1024;

    static async Task<IResult> HandleAcsAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var saml = services.GetRequiredService<SamlOptions>();
        var api = services.GetRequiredService<ApiOptions>();
        var db = services.GetRequiredService<NpgsqlDataSource>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        if (http.Request.ContentLength > MaxAcsBody)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAMLResponse is too large");
        var form = http.Request.HasFormContentType
            ? await http.Request.ReadFormAsync(new Microsoft.AspNetCore.Http.Features.FormOptions
            {
                ValueLengthLimit = MaxAcsBody,
                MultipartBodyLengthLimit = MaxAcsBody,
            }, ct)
            : null;
        string Value(string key) => form?[key].ToString() is { Length: > 0 } v ? v : http.Request.Query[key].ToString();

        var relayStateValue = Value("RelayState");
        string entityId;
        string? redirectTo;
        var requestIds = new List<string>();
        var idpInitiated = false;
        Guid? flowStateId = null;
        await using var conn = await db.OpenConnectionAsync(ct);

        var samlResponse = Value("SAMLResponse");
        if (Guid.TryParse(relayStateValue, out var relayStateId) && relayStateId != Guid.Empty)
        {
            // SP-initiated: the relay state names the provider and the request; it is used up here, whatever follows.
            var relayState = await SsoQueries.TakeRelayStateAsync(conn, relayStateId, ct)
                ?? throw ApiError.NotFound(ErrorCode.SamlRelayStateNotFound, "SAML RelayState does not exist, try logging in again?");
            if (now - DateTime.SpecifyKind(relayState.CreatedAt, DateTimeKind.Utc) >= saml.RelayStateValidity)
                throw ApiError.Unprocessable(ErrorCode.SamlRelayStateExpired, "SAML RelayState has expired. Try logging in again?");
            var owner = await SsoQueries.FindByIdAsync(conn, relayState.SsoProviderId, ct)
                ?? throw ApiError.Internal("Unable to find SSO Provider from SAML RelayState");
            if (!owner.IsEnabled)
                throw ApiError.NotFound(ErrorCode.SsoProviderDisabled, "SSO Provider assigned for this domain is currently disabled");
            entityId = owner.EntityId;
            redirectTo = relayState.RedirectTo;
            requestIds.Add(relayState.RequestId);
            flowStateId = relayState.FlowStateId;
        }
        else if (relayStateValue.Length == 0 || Uri.TryCreate(relayStateValue, UriKind.Absolute, out _) || relayStateValue.StartsWith('/'))
        {
            // IdP-initiated: the RelayState, if any, is where the IdP wants the user to land.
            if (Value("SAMLart").Length > 0)
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Artifact response can only be used with SP initiated flow");
            if (samlResponse.Length == 0) throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAMLResponse is missing");
            var peek = Decode(samlResponse);
            try
            {
                var root = Saml.Load(peek).DocumentElement!;
                entityId = root.NamespaceURI == Saml.Protocol && root.LocalName == "Response" &&
                           Saml.Child(root, Saml.Assertion, "Issuer") is { } issuer ? issuer.InnerText : "";
            }
            catch (System.Xml.XmlException e)
            {
                throw new ApiError(400, ErrorCode.ValidationFailed, "SAMLResponse is not a valid XML SAML assertion", e);
            }
            idpInitiated = true;
            redirectTo = relayStateValue;
        }
        else
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML RelayState is not a valid UUID or URL");

        var provider = await SsoQueries.FindByEntityIdAsync(conn, entityId, ct)
            ?? throw ApiError.NotFound(ErrorCode.SamlIdpNotFound, "A SAML connection has not been established with this Identity Provider");
        if (!provider.IsEnabled)
            throw ApiError.NotFound(ErrorCode.SsoProviderDisabled, "SSO Provider assigned for this domain is currently disabled");
        var idp = IdpMetadata.Parse(provider.MetadataXml);
        string? refreshedMetadata = null;
        if (!string.IsNullOrEmpty(provider.MetadataUrl) && idp.IsStale(DateTime.SpecifyKind(provider.SamlUpdatedAt, DateTimeKind.Utc), now))
        {
            // GoTrue refreshes stale metadata from its URL; a failure keeps the stored metadata.
            try
            {
                var fetched = await SsoAdminEndpoints.FetchMetadataAsync(services, provider.MetadataUrl, ct);
                var parsed = IdpMetadata.Parse(fetched);
                if (parsed.EntityId == provider.EntityId) (idp, refreshedMetadata) = (parsed, fetched);
            }
            catch (ApiError e)
            {
                services.GetRequiredService<ILoggerFactory>().CreateLogger("AuthServer.Sso")
                    .LogWarning("SAML Metadata could not be retrieved, continuing with existing metadata: {Reason}", e.Message);
            }
        }

        if (samlResponse.Length == 0) throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Assertion is not valid");
        var keys = saml.AllowEncryptedAssertions ? new[] { saml.Key!, saml.NextKey }.OfType<RSA>().ToList() : [];
        VerifiedAssertion assertion;
        try
        {
            assertion = SamlResponseVerifier.Verify(Decode(samlResponse), idp,
                new SamlExpectations(saml.AcsUrl, saml.MetadataUrl, requestIds, idpInitiated, keys), now);
        }
        catch (SamlInvalidException e)
        {
            throw new ApiError(400, ErrorCode.ValidationFailed, "SAML Assertion is not valid", e);
        }

        var userId = SsoAccounts.UserId(assertion)
            ?? throw ApiError.BadRequest(ErrorCode.SamlAssertionNoUserId,
                "SAML Assertion did not contain a persistent Subject Identifier attribute or Subject NameID uniquely identifying this user");
        var mapped = SsoAccounts.MapAttributes(assertion, provider.AttributeMappingJson());
        var email = mapped["email"] is JsonValue m && m.TryGetValue<string>(out var mappedEmail) && mappedEmail.Length > 0
            ? mappedEmail
            : SsoAccounts.Email(assertion)
            ?? throw ApiError.BadRequest(ErrorCode.SamlAssertionNoEmail, "SAML Assertion does not contain an email address");
        var data = SsoAccounts.ToExternalUser(userId, provider.EntityId, email, mapped);

        var jwt = services.GetRequiredService<JwtOptions>();
        var ip = ClientInfo.Ip(http);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // One use per assertion, in the database so every instance sees it (ours; GoTrue relies on the relay
        // state for SP-initiated flows and on IssueInstant for IdP-initiated ones).
        if (!await SingleUse.TryUseAsync(conn, SingleUse.SamlAssertion, provider.EntityId + "\n" + assertion.Id,
                assertion.NotOnOrAfter, now, ct))
            throw new ApiError(400, ErrorCode.ValidationFailed, "SAML Assertion is not valid",
                new SamlInvalidException("assertion was already used"));
        if (refreshedMetadata is not null) await SsoQueries.UpdateMetadataAsync(conn, provider.SamlId, refreshedMetadata, now, ct);
        var (signedInUser, _) = await SsoAccounts.ResolveAsync(conn, data, provider.ProviderType,
            SignupEndpoints.RequestAudience(http, jwt), services.GetRequiredService<AuthOptions>(), jwt, ip, now, ct);

        var target = !string.IsNullOrEmpty(redirectTo) && Redirects.IsValid(api, redirectTo) ? redirectTo : api.SiteUrl;
        var flow = flowStateId is { } fid
            ? await conn.QuerySingleOrDefaultAsync<FlowStateRow>(new CommandDefinition(
                "select id, user_id, auth_code, code_challenge from auth.flow_state where id = @fid for update", new { fid },
                cancellationToken: ct))
            : null;
        if (flow is { IsPkce: true })
        {
            if (flow.UserId is not null)
                throw ApiError.BadRequest(ErrorCode.FlowStateAlreadyUsed, "State has already been used");
            await conn.ExecuteAsync(new CommandDefinition(
                "update auth.flow_state set user_id = @signedInUser, updated_at = @now where id = @Id",
                new { signedInUser, now, flow.Id }, cancellationToken: ct));
            await tx.CommitAsync(ct);
            return Results.Redirect(RedirectUrls.WithQuery(target, [new("code", flow.AuthCode ?? "")]));
        }

        var session = await services.GetRequiredService<SessionIssuer>().StartAsync(conn, signedInUser, AmrMethod, http, now, ct,
            provider: provider.ProviderType, notAfter: assertion.SessionNotOnOrAfter);
        if (flow is not null) await FlowStates.DeleteAsync(conn, flow.Id, ct);
        await tx.CommitAsync(ct);
        // GoTrue `AccessTokenResponse.AsRedirectURL`.
        return Results.Redirect(RedirectUrls.WithFragment(target,
        [
            new("access_token", (string)session["access_token"]!),
            new("expires_at", session["expires_at"]!.ToJsonString()),
            new("expires_in", session["expires_in"]!.ToJsonString()),
            new("refresh_token", (string)session["refresh_token"]!),
            new("token_type", "bearer"),
        ]));
    }

    static string Decode(string samlResponse)
    {
        try
        {
            var bytes = Convert.FromBase64String(samlResponse);
            if (bytes.Length > Saml.MaxXmlChars) throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAMLResponse is too large");
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (FormatException)
        {
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAMLResponse is not a valid Base64 string");
        }
        catch (DecoderFallbackException)
        {
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAMLResponse is not a valid XML SAML assertion");
        }
    }

    sealed class SeeOther(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.StatusCode = StatusCodes.Status303SeeOther;
            http.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }
}
