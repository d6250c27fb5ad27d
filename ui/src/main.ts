import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { createEngineClient, defaultApiBase, inTauri } from "./lib/api/client";
import { initToken } from "./lib/api/token";
import { applyBrowserCsp } from "./lib/csp";
import { Session } from "./lib/stores/session.svelte";

const tauri = inTauri();
if (!tauri) applyBrowserCsp(defaultApiBase());
// Browser only: take a `#token=` handed over in the URL, else the one kept for this tab.
const initialToken = tauri ? null : initToken();

let session: Session | undefined;
const client = createEngineClient({
  http: {
    getToken: () => session?.token ?? null,
    onUnauthorized: () => session?.unauthorized(),
  },
});
session = new Session({ client, initialToken, baseUrl: tauri ? "" : defaultApiBase() });

const target = document.getElementById("app");
if (!target) throw new Error("#app is missing from index.html");

export default mount(App, { target, props: { session } });
