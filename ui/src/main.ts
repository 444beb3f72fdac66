import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";

async function start() {
  // A mock build (for browser tests) answers the IPC itself; the real app never loads it.
  if (import.meta.env.MODE === "mock") {
    const { installMocks } = await import("./lib/mock");
    installMocks();
  }
  mount(App, { target: document.getElementById("app")! });
}

void start();
