import { memstackProject } from "../../vitest.shared.ts";

export default memstackProject("cli", { testTimeout: 20000 });
