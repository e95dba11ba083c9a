import { memstackProject } from "../../vitest.shared.ts";

export default memstackProject("buddy", { testTimeout: 30000 });
