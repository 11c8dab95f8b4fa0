// The browser side of the grpc-web test: a page that talks to identityd with
// connect-web's grpc-web transport and the stubs generated from proto/ (gen/).
//
// Query parameters:
//   server    origin of identityd, e.g. http://127.0.0.1:8000 (required)
//   mode      "flow" (default): Register, Login, GetMe, then a Login with a
//             wrong password; "getme": GetMe only, with the access token
//             taken from the fragment (#token=...), which is never sent anywhere
//   email     address to register (flow; default: a fresh random one)
//   password  password to register with (flow; default below)
//
// The outcome of every call goes into <pre id="result"> as JSON, and
// data-state="done" is set on it when the page has finished.

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { toJson } from "@bufbuild/protobuf";
import { AuthService, TokenSchema } from "../gen/identity/v1/auth_pb";
import { UserService } from "../gen/identity/v1/users_pb";
import { UserSchema } from "../gen/identity/v1/common_pb";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb";

// Satisfies the server's password rule (docs/api.md#passwords): 12 to 128
// characters, lower and upper case, a digit and a special character.
const DEFAULT_PASSWORD = "Browser-Test-42!";
// Sent as grpc-timeout, so the CORS preflight has to allow that header too.
const CALL_OPTIONS = { timeoutMs: 15000 };

type Outcome =
  | { ok: true; value: unknown }
  | {
      ok: false;
      error: {
        code: string; // the Code enum name, e.g. "Unauthenticated"
        codeNumber: number;
        message: string; // ConnectError's message: "[code] raw message"
        rawMessage: string;
        reason?: string; // google.rpc.ErrorInfo reason, e.g. AUTH_001
        domain?: string;
      };
    };

function failure(e: unknown): Outcome {
  const err = ConnectError.from(e);
  const info = err.findDetails(ErrorInfoSchema)[0];
  return {
    ok: false,
    error: {
      code: Code[err.code],
      codeNumber: err.code,
      message: err.message,
      rawMessage: err.rawMessage,
      reason: info?.reason,
      domain: info?.domain,
    },
  };
}

async function attempt(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await call() };
  } catch (e) {
    return failure(e);
  }
}

async function main(): Promise<Record<string, unknown>> {
  const params = new URLSearchParams(location.search);
  const server = params.get("server");
  if (!server) {
    throw new Error("missing ?server=<identityd origin>");
  }
  const transport = createGrpcWebTransport({ baseUrl: server });
  const auth = createClient(AuthService, transport);
  const users = createClient(UserService, transport);
  const getMe = (token: string) =>
    attempt(async () =>
      toJson(
        UserSchema,
        await users.getMe({}, { ...CALL_OPTIONS, headers: { authorization: `Bearer ${token}` } }),
      ),
    );

  const mode = params.get("mode") ?? "flow";
  const result: Record<string, unknown> = { mode, pageOrigin: location.origin, server };

  if (mode === "getme") {
    const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
    result.me = await getMe(token);
    return result;
  }
  if (mode !== "flow") {
    throw new Error(`unknown mode ${mode}`);
  }

  const email =
    params.get("email") ?? `browser-${Date.now()}-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const password = params.get("password") ?? DEFAULT_PASSWORD;
  result.email = email;

  result.register = await attempt(async () =>
    toJson(
      UserSchema,
      await auth.register({ email, password, firstName: "Browser", lastName: "Test" }, CALL_OPTIONS),
    ),
  );

  let accessToken = "";
  result.login = await attempt(async () => {
    const token = await auth.login({ email, password }, CALL_OPTIONS);
    accessToken = token.accessToken;
    return toJson(TokenSchema, token);
  });

  result.me = accessToken
    ? await getMe(accessToken)
    : { ok: false, error: { code: "Skipped", codeNumber: -1, message: "no access token", rawMessage: "" } };

  result.wrongPassword = await attempt(async () =>
    toJson(TokenSchema, await auth.login({ email, password: `${password}x` }, CALL_OPTIONS)),
  );
  return result;
}

const out = document.getElementById("result")!;
const status = document.getElementById("status")!;
main()
  .then((result) => {
    out.textContent = JSON.stringify(result, null, 2);
    status.textContent = "done";
  })
  .catch((e: unknown) => {
    out.textContent = JSON.stringify({ pageError: String(e) }, null, 2);
    status.textContent = "page error";
  })
  .finally(() => {
    out.dataset.state = "done";
  });
