// A real, certified OpenID Connect provider (panva/oidc-provider) for browser tests and demos.
//
//   node src/flexreg/devtools/oidc/provider.mjs --port 9400 \
//        --redirect-uri http://localhost:8000/accounts/oidc/okta-dev/login/callback/ \
//        [--client-id flexreg-dev] [--client-secret dev-secret]
//
// Any login name signs in (the built-in development login and consent pages); the account's
// claims are derived from it. It prints "ready <issuer>" once listening. Development only.
import Provider from 'oidc-provider';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const port = Number(arg('port', '9400'));
const issuer = `http://127.0.0.1:${port}`;
const clientId = arg('client-id', 'flexreg-dev');
const clientSecret = arg('client-secret', 'dev-secret');
const redirectUri = arg('redirect-uri', 'http://localhost:8000/accounts/oidc/okta-dev/login/callback/');

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  pkce: { methods: ['S256'], required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(ctx, id) {
    // The development login page makes the login name the account id (and the subject).
    const name = String(id).toLowerCase().replace(/[^a-z0-9.-]/g, '') || 'person';
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${name}@idp.example`,
          email_verified: true,
          name: `${name} (test provider)`,
        };
      },
    };
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['flexreg-test-provider-cookie-key'] },
});
provider.proxy = false;
provider.on('server_error', (ctx, error) => {
  process.stdout.write(`server_error ${error && error.stack}\n`);
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
