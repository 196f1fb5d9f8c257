/**
 * The SMART launch URL (/dtr/launch). EHR launch: `launch` + `iss`; standalone: `iss` only (the
 * EHR's authorization server lets the user pick the patient). fhirclient does the SMART discovery
 * and the authorization code request with PKCE (S256, required), then the EHR redirects to /dtr/.
 */
import FHIR from 'fhirclient';

interface AppConfig {
  clientId: string;
  scope: string;
}

function show(text: string): void {
  const status = document.getElementById('status');
  if (status) status.textContent = text;
}

async function launch(): Promise<void> {
  const params = new URLSearchParams(window.location.search);
  if (!params.get('iss')) {
    show('This is the launch page of the prior authorization app: open it from the EHR (it adds "launch" and "iss"), or add ?iss=<your FHIR server> to launch it on its own.');
    return;
  }
  const response = await fetch('config.json', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`the app configuration could not be read (HTTP ${response.status})`);
  const config = (await response.json()) as AppConfig;
  await FHIR.oauth2.authorize({
    clientId: config.clientId,
    scope: config.scope,
    redirectUri: './',
    pkceMode: 'required',
  });
}

launch().catch((error: unknown) => {
  show(`The app could not start the sign-in with the EHR: ${error instanceof Error ? error.message : String(error)}`);
});
