/** A BlindSign thread whose code fails to load (pool.test.ts). */
throw new Error('this thread cannot load');
