// ethers 6 over HTTP through veer, in batches: reads, a signed transaction sent with
// eth_sendRawTransaction and mined by ganache, an answer veer gives itself (eth_accounts)
// and a method veer denies, all in batches of calls issued together. Prints one JSON
// object; tests/integration/jsonrpc_client_test.cpp checks it. Usage: node batch.mjs URL
import { JsonRpcProvider, Wallet, parseEther } from "ethers";

const url = process.argv[2];
// Ganache's --wallet.deterministic first account.
const key = "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d";
const to = "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0";

// cacheTimeout -1: ethers otherwise answers a repeated call from its 250 ms cache, so
// the head read after the transaction could be the one read before it.
const provider = new JsonRpcProvider(url, undefined, {
  batchMaxCount: 20,
  staticNetwork: true,
  cacheTimeout: -1,
});
const wallet = new Wallet(key, provider);
const out = {};
try {
  // Issued in one tick: ethers sends them as one batch.
  const [head, chain, balance, nonce, accounts] = await Promise.all([
    provider.getBlockNumber(),
    provider.send("eth_chainId", []),
    provider.getBalance(wallet.address),
    provider.getTransactionCount(wallet.address),
    provider.send("eth_accounts", []),
  ]);
  Object.assign(out, { head, chain, balance: balance.toString(), nonce, accounts });

  const tx = await wallet.sendTransaction({ to, value: parseEther("1.5") });
  const receipt = await tx.wait(1, 20000);
  out.tx = { hash: tx.hash, status: receipt.status, block: receipt.blockNumber };

  const [after, received] = await Promise.all([
    provider.getBlockNumber(),
    provider.getBalance(to),
  ]);
  Object.assign(out, { after, received: received.toString() });

  try {
    await provider.send("personal_listAccounts", []);
    out.denied = "not refused";
  } catch (e) {
    out.denied = { code: e.error?.code ?? e.code, message: e.error?.message ?? e.message };
  }
} catch (e) {
  out.failure = String(e?.stack ?? e);
}
console.log(JSON.stringify(out));
provider.destroy();
