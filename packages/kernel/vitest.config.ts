import { memstackProject } from "../../vitest.shared.ts";

export default memstackProject("kernel");
