// The sign-in pages the Entra emulator shows a browser: a plain user picker, a second-factor prompt, a consent
// prompt, an error page and a signed-out page. Each button has a `data-testid` so a browser script can drive it.

export interface PickerUser {
  name: string;
  displayName: string;
  userPrincipalName: string;
}

export interface PageFrame {
  /** Where the page's form posts (the authorize endpoint). */
  action: string;
  /** The pending sign-in the form continues. */
  flow: string;
}

export function userPickerPage(frame: PageFrame, appName: string, users: readonly PickerUser[]): string {
  const buttons = users
    .map(
      (user) =>
        `<button type="submit" name="user" value="${escapeHtml(user.name)}" data-testid="user-${escapeHtml(user.name)}">` +
        `${escapeHtml(user.displayName)}<small>${escapeHtml(user.userPrincipalName)}</small></button>`,
    )
    .join('\n');
  return page(
    'Pick an account',
    `<p>to continue to <strong>${escapeHtml(appName)}</strong></p>\n${form(frame, buttons)}`,
  );
}

export function secondFactorPage(frame: PageFrame, user: PickerUser): string {
  return page(
    'Approve sign-in request',
    `<p>${escapeHtml(user.userPrincipalName)}: your organization requires a second factor for this access.</p>\n` +
      form(
        frame,
        '<button type="submit" name="step" value="mfa" data-testid="mfa-approve">Approve with the authenticator app</button>',
      ),
  );
}

export function consentPage(
  frame: PageFrame,
  user: PickerUser,
  appName: string,
  permissions: readonly string[],
): string {
  const items = permissions.map((permission) => `<li>${escapeHtml(permission)}</li>`).join('');
  return page(
    'Permissions requested',
    `<p><strong>${escapeHtml(appName)}</strong> asks ${escapeHtml(user.userPrincipalName)} to allow:</p>\n<ul>${items}</ul>\n` +
      form(
        frame,
        '<button type="submit" name="step" value="consent" data-testid="consent-accept">Accept</button>\n' +
          '<button type="submit" name="step" value="decline" data-testid="consent-decline">Cancel</button>',
      ),
  );
}

/** Entra shows an error page, not a redirect, when it cannot trust the redirect URI. */
export function errorPage(code: number, error: string, description: string): string {
  return page(
    'Sorry, but we are having trouble signing you in.',
    `<p data-testid="error-code">AADSTS${code}</p>\n<p>${escapeHtml(error)}: ${escapeHtml(description)}</p>`,
  );
}

export function signedOutPage(): string {
  return page('You signed out of your account', '<p>It is a good idea to close all browser windows.</p>');
}

function form(frame: PageFrame, inner: string): string {
  return (
    `<form method="post" action="${escapeHtml(frame.action)}">\n` +
    `<input type="hidden" name="flow" value="${escapeHtml(frame.flow)}">\n${inner}\n</form>`
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} - Sandbox Entra ID</title>
<style>
body { font-family: system-ui, sans-serif; background: #f2f2f2; margin: 0; }
main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem; box-shadow: 0 2px 6px rgba(0,0,0,.2); }
h1 { font-size: 1.4rem; font-weight: 600; }
button { display: block; width: 100%; margin: .5rem 0; padding: .8rem; text-align: left; font-size: 1rem;
  background: #fff; border: 1px solid #8a8886; cursor: pointer; }
button:hover { background: #f3f2f1; }
small { display: block; color: #605e5c; }
</style>
</head>
<body>
<main>
<p>Sandbox Entra ID</p>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
