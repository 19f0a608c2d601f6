// The one symbol of a compiled library's buffer pool (toolchain/buffer-pool.ts)
// that the runtime calls: it frees the blocks the pool keeps, before unload.
export const POOL_DRAIN_SYMBOL = 'ortmlir_pool_drain';
