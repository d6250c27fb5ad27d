// Delivery ticks of outbound messages, WhatsApp style.

export type Tick = "pending" | "sent" | "delivered" | "read" | "failed" | "unknown";

export function tickOf(status: string): Tick {
  switch (status) {
    case "sent":
      return "sent";
    case "delivered":
      return "delivered";
    case "read":
      return "read";
    case "failed":
      return "failed";
    case "unknown":
      return "unknown";
    default:
      return "pending";
  }
}
