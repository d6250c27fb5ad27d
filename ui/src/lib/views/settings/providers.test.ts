import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeClient, page, withContext } from "../../../test/fakes";
import { ApiError } from "../../api/errors";
import type { ModelFolder, Provider } from "../../api/types";
import ProvidersSettings from "./ProvidersSettings.svelte";

const builtIn: Provider = {
  name: "local",
  kind: "local",
  base_url: "",
  model: "SmolLM2-135M-Instruct.Q4_1.gguf",
  configured: false,
  model_from_settings: false,
};

const folder: ModelFolder = {
  dir: "/data/models",
  items: [
    {
      name: "SmolLM2-135M-Instruct.Q4_1.gguf",
      path: "/data/models/SmolLM2-135M-Instruct.Q4_1.gguf",
      size_bytes: 98_362_432,
      default: true,
      valid: true,
    },
    { name: "broken.gguf", path: "/data/models/broken.gguf", size_bytes: 12, default: false, valid: false },
    { name: "qwen.gguf", path: "/data/models/qwen.gguf", size_bytes: 1_100_000_000, default: false, valid: true },
  ],
};

function client(providers: () => Provider[], put: (body: unknown, path: string) => unknown) {
  return new FakeClient({
    "GET /api/providers": () => page(providers()),
    "GET /api/models": () => folder,
    "PUT /api/providers/local": put,
    "PUT /api/providers/qwen": put,
  });
}

describe("Settings: local models", () => {
  it("lists the models folder with sizes, the default, and refuses a non-GGUF file", async () => {
    render(ProvidersSettings, { props: { owner: true }, ...withContext(client(() => [builtIn], () => builtIn)) });
    const form = await screen.findByRole("form", { name: "Model file of local" });
    const select = (await within(form).findByLabelText("Model file (models folder)")) as HTMLSelectElement;
    const options = [...select.options].map((o) => ({ text: o.textContent, disabled: o.disabled }));
    expect(options).toEqual([
      { text: "SmolLM2-135M-Instruct.Q4_1.gguf · 94 MB · default", disabled: false },
      { text: "broken.gguf · 0.0 MB · not GGUF", disabled: true },
      { text: "qwen.gguf · 1049 MB", disabled: false },
    ]);
    expect(select.value).toBe("SmolLM2-135M-Instruct.Q4_1.gguf");
  });

  it("switches the built-in provider to another file of the folder and reloads the chain", async () => {
    let current = builtIn;
    const puts: unknown[] = [];
    const fake = client(
      () => [current],
      (body) => {
        puts.push(body);
        current = { ...builtIn, model: "/data/models/qwen.gguf", model_from_settings: true };
        return current;
      },
    );
    render(ProvidersSettings, { props: { owner: true }, ...withContext(fake) });
    const form = await screen.findByRole("form", { name: "Model file of local" });
    const select = (await within(form).findByLabelText("Model file (models folder)")) as HTMLSelectElement;
    await fireEvent.change(select, { target: { value: "qwen.gguf" } });
    await fireEvent.click(within(form).getByRole("button", { name: "Use this model" }));
    expect(await within(form).findByRole("status")).toBeTruthy();
    expect(puts).toEqual([{ kind: "local", model: "qwen.gguf" }]);
    await waitFor(() => expect(screen.getByText("/data/models/qwen.gguf")).toBeTruthy());
    expect(fake.calls.filter((c) => c.method === "GET" && c.path === "/api/providers").length).toBe(2);
  });

  it("sends a typed absolute path, and shows the engine's reason when it refuses the file", async () => {
    const puts: unknown[] = [];
    const fake = client(
      () => [builtIn],
      (body) => {
        puts.push(body);
        throw new ApiError(
          422,
          "invalid_request",
          "/tmp/notes.txt is not a GGUF model file (it does not start with the bytes GGUF)",
        );
      },
    );
    render(ProvidersSettings, { props: { owner: true }, ...withContext(fake) });
    const form = await screen.findByRole("form", { name: "Model file of local" });
    await fireEvent.input(within(form).getByLabelText("Or an absolute path to a GGUF file"), {
      target: { value: " /tmp/notes.txt " },
    });
    await fireEvent.click(within(form).getByRole("button", { name: "Use this model" }));
    const alert = await within(form).findByRole("alert");
    expect(alert.textContent).toContain("is not a GGUF model file");
    expect(puts).toEqual([{ kind: "local", model: "/tmp/notes.txt" }]);
    // Nothing is lost: the typed path stays for correcting.
    expect((within(form).getByLabelText("Or an absolute path to a GGUF file") as HTMLInputElement).value).toBe(
      " /tmp/notes.txt ",
    );
  });

  it("adds a named local provider", async () => {
    const puts: { path: string; body: unknown }[] = [];
    let chain = [builtIn];
    const fake = client(
      () => chain,
      (body, path) => {
        puts.push({ path, body });
        const added = { ...builtIn, name: "qwen", model: "qwen.gguf", model_from_settings: true };
        chain = [builtIn, added];
        return added;
      },
    );
    render(ProvidersSettings, { props: { owner: true }, ...withContext(fake) });
    const form = await screen.findByRole("form", { name: "Add a local model" });
    const add = within(form).getByRole("button", { name: "Add" }) as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    await fireEvent.input(within(form).getByLabelText("Provider name"), { target: { value: "qwen" } });
    await fireEvent.change(await within(form).findByLabelText("Model file (models folder)"), {
      target: { value: "qwen.gguf" },
    });
    await fireEvent.click(add);
    await waitFor(() => expect(screen.getByText("qwen", { selector: "strong" })).toBeTruthy());
    expect(puts).toEqual([{ path: "/api/providers/qwen", body: { kind: "local", model: "qwen.gguf" } }]);
  });

  it("shows no model editor to a non-owner and does not ask for the folder", async () => {
    const fake = client(() => [builtIn], () => builtIn);
    render(ProvidersSettings, { props: { owner: false }, ...withContext(fake) });
    expect(await screen.findByText("local", { selector: "strong" })).toBeTruthy();
    expect(screen.queryByRole("form", { name: "Model file of local" })).toBeNull();
    expect(screen.queryByText("Add a local model")).toBeNull();
    expect(fake.calls.some((c) => c.path === "/api/models")).toBe(false);
  });
});
