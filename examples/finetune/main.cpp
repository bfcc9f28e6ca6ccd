// finetune: fine-tune a sentence-transformers model on examples held in memory, with libsbert's
// public API only, and measure retrieval before and after on a small BEIR folder.
//   finetune MODEL_DIR BEIR_DIR OUTPUT_DIR
// Writes OUTPUT_DIR/run (logs, checkpoints) and OUTPUT_DIR/model (the fine-tuned model, a
// sentence-transformers folder).
#include <sbert/sbert.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: finetune MODEL_DIR BEIR_DIR OUTPUT_DIR\n");
    return 2;
  }
  const std::filesystem::path model_dir = argv[1], beir_dir = argv[2], out = argv[3];
  try {
    const sbert::eval::BeirData test = sbert::eval::read_beir(beir_dir, "test");
    auto ndcg = [&](const sbert::Model& m) {
      return sbert::eval::evaluate_retrieval(m, test).get("ndcg@10");
    };
    const double before = ndcg(sbert::Model::load(model_dir));

    // (query, positive passage, hard negatives): NeMo's training record, in memory.
    std::vector<sbert::TrainExample> examples = {
        {"what is in espresso", "Espresso is a concentrated coffee rich in caffeine.",
         {"Herbal tea has no caffeine."}},
        {"where does magma come from", "Magma forms when rock melts deep under the crust.",
         {"Ice forms when water freezes."}},
        {"how does a leaf use light", "Leaves capture light with chlorophyll to make sugar.",
         {"Solar panels turn light into electricity."}},
        {"why is bread soft", "Gas from yeast makes holes in bread, so it is soft.",
         {"Bricks are baked clay."}},
        {"how do tectonic plates move", "Plates drift slowly on the hot mantle below them.",
         {"Ships drift with ocean currents."}},
        {"what are violin strings made of", "Violin strings are made of gut, steel or nylon.",
         {"Guitar picks are made of plastic."}},
        {"how does a bike chain work", "The chain carries the pedals' force to the rear wheel.",
         {"A car engine burns fuel."}},
        {"what does green tea contain", "Green tea contains catechins and some caffeine.",
         {"Milk contains calcium."}},
    };

    sbert::TrainOptions opt;
    opt.restore_from_path = model_dir.string();
    opt.exp_manager.explicit_log_dir = (out / "run").string();
    opt.trainer.max_steps = 4;
    opt.trainer.log_every_n_steps = 1;
    opt.model.global_batch_size = 4;
    opt.model.micro_batch_size = 4;
    opt.model.encoder_seq_length = 64;
    opt.model.data.hard_negatives_to_train = 1;
    opt.model.data.add_prefix = false;  // all-MiniLM-L6-v2 has no query/passage prefixes
    opt.model.optim.lr = 2e-5;
    opt.model.optim.sched.warmup_steps = 1;
    opt.validate();  // throws sbert::Error naming the key of a bad value

    sbert::FitCallbacks callbacks;
    callbacks.on_step = [](const sbert::StepInfo& s) {
      std::printf("step %lld/%lld  loss %.4f  lr %.2e\n", static_cast<long long>(s.step),
                  static_cast<long long>(s.max_steps), s.loss, s.lr);
    };
    callbacks.on_message = [](sbert::MessageLevel, const std::string& text) {
      std::printf("note: %s\n", text.c_str());
    };
    const sbert::TrainResult r =
        sbert::fit(opt, sbert::TrainData::from_examples(examples), callbacks);

    // The last checkpoint is a model folder: load it, evaluate, save it as a plain model.
    const sbert::Model tuned = sbert::Model::load(r.last_checkpoint);
    const double after = ndcg(tuned);
    tuned.save(out / "model");
    std::printf("NDCG@10 before %.4f, after %.4f; model saved in %s\n", before, after,
                (out / "model").c_str());
  } catch (const sbert::Error& e) {
    std::fprintf(stderr, "finetune: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
