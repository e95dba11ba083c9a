import { memstackProject } from "../../vitest.shared.ts";

export default memstackProject("libc", { testTimeout: 60000 });
