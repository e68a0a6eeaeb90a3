/**
 * The memory section of `npm run bench`: the V8 heap of the bench Worker's isolate (`bench-worker.ts`) as
 * thousands of distinct agents' key directories pass through the bounded key directory cache, read over
 * Miniflare's inspector after forced collections, with workerd's RSS beside it.
 *
 * @example
 * ```ts
 * const result = await memorySection.run(context);
 * process.stdout.write(memorySection.report(result));
 * ```
 *
 * @module
 */
import { Inspector, round, type Section, startWorker, table, workerdRss } from "./support.ts";

const INSPECTOR_PORT = 9229 + Math.floor(Math.random() * 500);

async function memory(script: string, agents: number) {
  const { mf, url } = await startWorker({ name: "bench", script, inspectorPort: INSPECTOR_PORT });
  const inspector = await Inspector.connect(INSPECTOR_PORT, "bench");
  try {
    const post = async (path: string) => {
      const response = await fetch(new URL(path, url), { method: "POST" });
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as { agents?: number; size: number; failures?: number };
    };
    // workerd runs this inspector command only when the isolate is next entered: poke it with requests until the
    // collection is done (a single request can finish before the command arrives).
    const collectGarbage = async () => {
      let done = false;
      const gc = inspector.call("HeapProfiler.collectGarbage").then(() => {
        done = true;
      });
      for (let i = 0; !done; i++) {
        if (i === 200) throw new Error("the inspector did not run HeapProfiler.collectGarbage");
        await (await fetch(new URL("/ping", url))).text();
        await Promise.race([gc, new Promise((resolve) => setTimeout(resolve, 20))]);
      }
    };
    const heap = async () => {
      await collectGarbage();
      await collectGarbage();
      const usage = await inspector.call<{ usedSize: number; totalSize: number; embedderHeapUsedSize?: number }>(
        "Runtime.getHeapUsage",
      );
      return { usedBytes: usage.usedSize, totalBytes: usage.totalSize, rssBytes: workerdRss() };
    };
    await post("/memory/reset");
    // One lookup first, so code paths and lazily built tables are in place before the baseline.
    await post("/memory/fill?count=10");
    await post("/memory/reset");
    const points: {
      agentsSeen: number;
      heldKeySets: number;
      usedBytes: number;
      totalBytes: number;
      rssBytes?: number;
    }[] = [];
    const baseline = await heap();
    points.push({ agentsSeen: 0, heldKeySets: 0, ...baseline });
    const start = performance.now();
    let seen = 0;
    let failures = 0;
    for (const target of [500, 1000, 2000, 5000, 10_000].filter((t) => t <= agents)) {
      let last = { size: 0 };
      while (seen < target) {
        const count = Math.min(500, target - seen);
        const answer = await post(`/memory/fill?count=${count}`);
        failures += answer.failures ?? 0;
        seen += count;
        last = answer;
      }
      points.push({ agentsSeen: seen, heldKeySets: last.size, ...(await heap()) });
    }
    const fillSeconds = (performance.now() - start) / 1000;
    const last = points[points.length - 1];
    const full = points.find((p) => p.agentsSeen === 1000) ?? last;
    return {
      method:
        "V8 heap of the bench Worker's isolate, read over Miniflare's inspector (CDP Runtime.getHeapUsage after two " +
        "HeapProfiler.collectGarbage); workerd's performance.memory is absent and process.memoryUsage() returns zeros. " +
        "A key directory cache built as the Worker builds it (keyCacheFor: default bound of 1,000 key sets, Cache API " +
        "tier off) looks up one fresh Ed25519 agent after another; a stub fetch serves each agent's one-key directory.",
      points,
      failures,
      agentsPerSecond: Math.round(seen / fillSeconds),
      heapGrowthBytes: last === undefined ? undefined : last.usedBytes - baseline.usedBytes,
      perHeldKeySetBytes:
        full === undefined || full.heldKeySets === 0
          ? undefined
          : Math.round((full.usedBytes - baseline.usedBytes) / full.heldKeySets),
    };
  } finally {
    inspector.close();
    await mf.dispose();
  }
}

/**
 * The section's result (the JSON under `memory`).
 *
 * @example
 * ```ts
 * const result: MemoryResult = await memorySection.run(context);
 * result.perHeldKeySetBytes; // about 1,450
 * ```
 */
export type MemoryResult = Awaited<ReturnType<typeof memory>>;

/**
 * The memory section.
 *
 * @example
 * ```ts
 * process.stdout.write(memorySection.report(await memorySection.run(context)));
 * ```
 */
export const memorySection: Section<MemoryResult> = {
  key: "memory",
  title: "Memory: isolate heap (V8 used, after GC) as distinct agents' directories pass the bounded cache",
  async run(context) {
    const agents = context.quick ? 2000 : 10_000;
    context.log(`   ${agents} distinct agents through the key directory cache`);
    return memory(context.scripts.bench, agents);
  },
  report(mem: MemoryResult): string {
    const fmt = (n: number) => n.toLocaleString("en-US");
    const mib = (bytes: number | undefined) => (bytes === undefined ? "n/a" : `${round(bytes / 1024 ** 2, 2)} MiB`);
    const last = mem.points[mem.points.length - 1];
    const base = mem.points[0];
    return [
      table(
        ["agents seen", "key sets held", "V8 heap used", "workerd RSS"],
        mem.points.map((p) => [fmt(p.agentsSeen), fmt(p.heldKeySets), mib(p.usedBytes), mib(p.rssBytes)]),
      ),
      "",
      `Growth ${mib(base && last ? last.usedBytes - base.usedBytes : undefined)} after ${fmt(last?.agentsSeen ?? 0)} agents ` +
        `(≈ ${fmt(mem.perHeldKeySetBytes ?? 0)} bytes per held key set); ${fmt(mem.agentsPerSecond)} new agents/s ingested (key generation in the isolate included).`,
    ].join("\n");
  },
};
