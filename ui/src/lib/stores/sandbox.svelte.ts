// The sandbox panel: open or closed, and who the operator is writing as.

class SandboxPanelState {
  open = $state(false);
  from = $state("5215550000001");
  name = $state("Lucía Hernández");

  /** Open the panel as an existing customer (from a sandbox conversation). */
  writeAs(from: string | null, name: string | null): void {
    if (from) this.from = from.replace(/\D/g, "");
    if (name) this.name = name;
    this.open = true;
  }
}

export const sandboxPanel = new SandboxPanelState();
