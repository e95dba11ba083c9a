import { memstackProject } from "../../vitest.shared.ts";

export default memstackProject("machine", { testTimeout: 30000 });
